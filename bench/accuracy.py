#!/usr/bin/env python3
"""Accuracy on real Fashion-MNIST: a search over a preset, then its best genome retrained.

Runs `deepevolve local` twice on this machine:
  1. the search: `--preset P` with the given strategy, trials and epochs per genome,
     selecting on the validation split (the last 10 % of the training images);
  2. `deepevolve retrain`: the search's best genome (by validation accuracy only)
     trained again for `--retrain-epochs`, early stopping with `--patience` and the best
     epoch's weights kept.
The test set only reports. Prints one Markdown row for bench/README.md's table with the
wall-clock of both steps and the epochs trained.

  /usr/bin/python3 bench/accuracy.py --preset fashion_mnist_mlp_full --trials 24 \
      --epochs 4 --retrain-epochs 20 --seed 1
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}")
    return time.monotonic() - start


def load(out):
    with open(os.path.join(out, "genomes.json")) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--preset", default="fashion_mnist_mlp_full")
    ap.add_argument("--strategy", default="steady_state")
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train-limit", type=int, default=0,
                    help="the search trains on the first N images (0: all 60 000); the retrain on all")
    ap.add_argument("--retrain-epochs", type=int, default=20, help="0: no retrain")
    ap.add_argument("--patience", type=int, default=5, help="early stopping in the retrain")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trainers", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    deepevolve = os.path.join(args.build, "cli", "deepevolve")
    out = args.out or tempfile.mkdtemp(prefix="deepevolve-accuracy-")
    search_out = os.path.join(out, "search")
    cmd = [deepevolve, "local", "--preset", args.preset, "--strategy", args.strategy,
           "--epochs", str(args.epochs), "--seed", str(args.seed), "--trainers",
           str(args.trainers), "--no-live", "--out", search_out]
    if args.strategy == "generational":
        cmd += ["--population", str(args.population),
                "--generations", str(max(1, args.trials // args.population))]
    else:
        cmd += ["--trials", str(args.trials)]
        if args.strategy == "steady_state":
            cmd += ["--population", str(args.population)]
    if args.train_limit:
        cmd += ["--train-limit", str(args.train_limit)]
    search_seconds = run(cmd)
    rows = [r for r in load(search_out) if r["status"] == "ok"]
    search_epochs = sum(r["epochs_run"] for r in load(search_out))
    best = max(rows, key=lambda r: r["accuracy"])  # validation only
    description = " ".join(f"{k}={v}" for k, v in best["genes"].items())
    print(f"search: {len(load(search_out))} genomes, {search_epochs} epochs, {search_seconds:.0f} s; "
          f"best {best['accuracy']:.4f} val, {best['test_accuracy']:.4f} test")
    print(f"| `{args.preset}` | {description} | {args.strategy} {len(load(search_out))} genomes x "
          f"{args.epochs} epochs, seed {args.seed} | {search_seconds / 60:.1f} min, "
          f"{search_epochs} epochs | {100 * best['accuracy']:.2f} % | "
          f"**{100 * best['test_accuracy']:.2f} %** |", flush=True)
    if args.retrain_epochs == 0:
        return

    retrain_out = os.path.join(out, "retrain")
    retrain_seconds = run([deepevolve, "retrain", search_out, "--genome", best["hash"],
                           "--epochs", str(args.retrain_epochs), "--patience", str(args.patience),
                           "--train-limit", "0", "--no-live", "--out", retrain_out])
    final = load(retrain_out)[0]
    assert final["genes"] == best["genes"], (final["genes"], best["genes"])
    print(f"retrain: {final['epochs_run']} epochs, {retrain_seconds:.0f} s; "
          f"{final['accuracy']:.4f} val, {final['test_accuracy']:.4f} test")
    print(f"| `{args.preset}` | {description} | {args.strategy} {len(load(search_out))} genomes x "
          f"{args.epochs} epochs, seed {args.seed}; `deepevolve retrain` {final['epochs_run']} of "
          f"{args.retrain_epochs} epochs, best kept | "
          f"{search_seconds / 60:.1f} + {retrain_seconds / 60:.1f} min, "
          f"{search_epochs} + {final['epochs_run']} epochs | {100 * final['accuracy']:.2f} % | "
          f"**{100 * final['test_accuracy']:.2f} %** |")


if __name__ == "__main__":
    main()
