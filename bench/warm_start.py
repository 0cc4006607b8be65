#!/usr/bin/python3
"""Warm starts: evaluations to a near-best genome on a task, starting cold or from the
best genomes of a search on a neighbouring task, for deepevolve and for Optuna.

The neighbouring task is the same space trained for 1 epoch (bench/data/
fashion_mnist_mlp_grid.csv) and the task is 4 epochs (fashion_mnist_mlp_grid_4epochs.csv):
the same 490 genomes, looked up, not trained. For each seed:

- deepevolve: `deepevolve sim --table TASK` (cold), and with `--warm-table NEIGHBOUR
  --warm-trials W --warm-best K` (the same strategy searches the neighbour for W genomes,
  then the search on the task begins with its best K: SearchSpec.warm_start);
- Optuna 3.1 (Debian's python3-optuna), TPE multivariate: a study on the task (cold), and
  a study on the neighbour for W distinct genomes whose best K are enqueued
  (`study.enqueue_trial`, Optuna's way to begin with known points) into a new study on
  the task.

Counted: evaluations on the task up to and including the first genome within --gap of
the task's best, and the epochs trained, the warm-up's included (1 a genome on the
neighbour; each task genome's own epochs, 3.3 on average with early stopping).

    /usr/bin/python3 bench/warm_start.py --seeds 100
"""
import argparse
import csv
import math
import multiprocessing
import re
import statistics
import subprocess
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_compare import Table, percentile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"


def epochs_of(path, table):
    """Each genome's epochs trained (the epochs_run column), by table key."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out[tuple(r[g] for g in table.genes)] = int(r.get("epochs_run") or 1)
    return out


def run_deepevolve(binary, task, neighbour, strategy, seeds, gap, budget, warm_trials, warm_best):
    cmd = [binary, "sim", "--table", str(task), "--strategy", strategy, "--seeds", str(seeds),
           "--target", f"best-{gap}", "--trials", str(budget)]
    if warm_trials:
        cmd += ["--warm-table", str(neighbour), "--warm-trials", str(warm_trials),
                "--warm-best", str(warm_best)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    runs = []
    for line in out.splitlines():
        m = re.match(r"seed \d+: (\d+) evaluations, (\d+) epochs(?: \(\+ (\d+) epochs warming up\))?", line)
        if m:
            runs.append((int(m.group(1)), int(m.group(2)) + int(m.group(3) or 0)))
        elif re.match(r"seed \d+: not reached", line):
            runs.append((math.inf, math.inf))
    if len(runs) != seeds:
        sys.exit(f"warm_start: could not read deepevolve sim's output:\n{out}")
    return runs


def tpe_study(seed):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, warn_independent_sampling=False)
    return optuna.create_study(direction="maximize", sampler=sampler)


def optuna_run(job):
    """(evaluations, epochs) on the task; with warm_trials, after a study on the neighbour."""
    task_path, neighbour_path, target, seed, budget, warm_trials, warm_best = job
    task, neighbour = Table(task_path), Table(neighbour_path)
    task_epochs = epochs_of(task_path, task)
    epochs = 0
    study = tpe_study(seed)
    if warm_trials:
        warm = tpe_study(seed ^ 0x5BD1E995)
        seen = {}
        for _ in range(warm_trials * 5):  # repeats are looked up, not trained
            trial = warm.ask()
            key = neighbour.suggest(trial)
            warm.tell(trial, neighbour.fitness[key])
            if key not in seen:
                seen[key] = (neighbour.fitness[key], dict(trial.params))
                epochs += 1
            if len(seen) >= warm_trials:
                break
        best = sorted(seen.values(), key=lambda v: -v[0])[:warm_best]
        for _, params in best:
            study.enqueue_trial(params)
    seen = set()
    for _ in range(budget * 5):
        trial = study.ask()
        key = task.suggest(trial)
        study.tell(trial, task.fitness[key])
        if key in seen:
            continue
        seen.add(key)
        epochs += task_epochs[key]
        if task.fitness[key] >= target:
            return len(seen), epochs
        if len(seen) >= budget:
            break
    return math.inf, math.inf


def line(name, runs):
    evals = [r[0] for r in runs]
    epochs = [r[1] for r in runs]
    reached = sum(e != math.inf for e in evals)
    fmt = lambda x: "not reached" if x == math.inf else f"{x:g}"
    return (f"| {name} | {reached}/{len(runs)} | {fmt(statistics.median(evals))} | "
            f"{fmt(percentile(evals, 0.9))} | {fmt(statistics.median(epochs))} | {fmt(percentile(epochs, 0.9))} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--gap", type=float, default=0.005)
    p.add_argument("--budget", type=int, default=200)
    p.add_argument("--warm", default="15:5,30:8,60:8", help="W:K pairs: warm-up genomes, best kept")
    p.add_argument("--strategies", default="guided,steady_state")
    p.add_argument("--binary", default=str(ROOT / "build" / "cli" / "deepevolve"))
    p.add_argument("--task", default=str(DATA / "fashion_mnist_mlp_grid_4epochs.csv"))
    p.add_argument("--neighbour", default=str(DATA / "fashion_mnist_mlp_grid.csv"))
    p.add_argument("--no-optuna", action="store_true")
    args = p.parse_args()
    warm = [(0, 0)] + [tuple(int(x) for x in w.split(":")) for w in args.warm.split(",") if w]
    task = Table(args.task)
    target = max(task.fitness.values()) - args.gap
    print(f"task {Path(args.task).name}: target {target:.4f}; neighbour {Path(args.neighbour).name}; "
          f"{args.seeds} seeds, budget {args.budget}\n")
    print("| search | reached | median evaluations | p90 | median epochs (warm-up included) | p90 |")
    print("|---|---|---|---|---|---|")
    for strategy in args.strategies.split(","):
        for w, k in warm:
            name = f"deepevolve {strategy}, " + (f"warm: best {k} of {w} on the neighbour" if w else "cold")
            runs = run_deepevolve(args.binary, args.task, args.neighbour, strategy, args.seeds, args.gap,
                                  args.budget, w, k)
            print(line(name, runs), flush=True)
    if args.no_optuna:
        return
    with multiprocessing.Pool() as pool:
        for w, k in warm:
            jobs = [(args.task, args.neighbour, target, seed, args.budget, w, k) for seed in range(1, args.seeds + 1)]
            runs = pool.map(optuna_run, jobs)
            name = "Optuna TPE (multivariate), " + (f"warm: best {k} of {w} enqueued" if w else "cold")
            print(line(name, runs), flush=True)


if __name__ == "__main__":
    main()
