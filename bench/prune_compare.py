#!/usr/bin/python3
"""Pruned searches on real training: deepevolve's steady-state (or, with --strategy guided,
model-guided evolution) + ASHA against Optuna 3.1 (Debian's python3-optuna) with TPE +
HyperbandPruner and TPE + MedianPruner driving Debian's python3-torch, over the same CNN
space (the `fashion_mnist_cnn_full` preset's genes), the same data (the first
--train-limit Fashion-MNIST training images, 10 % of them held out for validation, the
first --test-limit test images), the same epochs per genome and the same total epoch
budget.

For each seed, deepevolve runs first (`deepevolve local --pruner asha`); the epochs its
genomes trained become the budget each Optuna study runs to. Selection uses validation
accuracy only; the test accuracy of each study's best is reported beside it. Prints, per
run, the best validation and test accuracy at the budget, the wall-clock, and the
wall-clock at which the run first reached the accuracy every run reached; then one
Markdown row per tool for bench/README.md (medians over seeds).

  /usr/bin/python3 bench/prune_compare.py --seeds 3 --trials 12 --epochs 4 \\
      --train-limit 12000 --test-limit 2000

The torch network is built as deepevolve's trainer builds it (worker/trainer/model.cc):
conv blocks (the first padded 'same', the others 'valid'), batch norm before the
activation, 2x2 pooling after the first two blocks, dropout after each block, a dense
head with dropout 0.5; glorot-uniform weights; Keras's optimizer constants; decoupled
weight decay on weight matrices and kernels; the same learning-rate schedules and
augmentation.
"""
import argparse
import gzip
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = {
    "nb_layers": [1, 2, 3],
    "nb_neurons_1": [32, 64, 128], "nb_neurons_2": [32, 64, 128], "nb_neurons_3": [32, 64, 128],
    "kernel_size": [3, 5], "pooling": ["max", "average"], "dense_units": [64, 128, 256],
    "augmentation": ["none", "flip", "crop_flip"], "activation": ["relu", "elu", "tanh"],
    "optimizer": ["adam", "nadam", "rmsprop", "sgd"],
    "learning_rate": [1e-4, 0.000316, 0.001, 0.00316, 0.01, 0.0316, 0.1],
    "batch_size": [32, 64, 128, 256], "dropout": [0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "weight_decay": [0, 1e-5, 1e-4, 0.001], "lr_schedule": ["constant", "cosine", "step"],
    "batch_norm": ["false", "true"],
}
DATA_DIRS = ["/usr/share/datasets/fashion-mnist"]


def find(name):
    for d in DATA_DIRS:
        for candidate in (os.path.join(d, name), os.path.join(d, name + ".gz")):
            if os.path.exists(candidate):
                return candidate
    for d in DATA_DIRS:
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.startswith(name):
                    return os.path.join(dirpath, f)
    sys.exit(f"{name} not found under {DATA_DIRS} (scripts/install-deps.sh installs it)")


def idx(name):
    import numpy as np
    path = find(name)
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(train_limit, test_limit):
    import torch
    x = torch.tensor(idx("train-images-idx3-ubyte")[:train_limit], dtype=torch.float32) / 255
    y = torch.tensor(idx("train-labels-idx1-ubyte")[:train_limit], dtype=torch.int64)
    tx = torch.tensor(idx("t10k-images-idx3-ubyte")[:test_limit], dtype=torch.float32) / 255
    ty = torch.tensor(idx("t10k-labels-idx1-ubyte")[:test_limit], dtype=torch.int64)
    held = round(0.1 * len(x))  # the last 10 %, as Keras's validation_split
    return ((x[:-held].unsqueeze(1), y[:-held]), (x[-held:].unsqueeze(1), y[-held:]),
            (tx.unsqueeze(1), ty))


def build(g):
    import torch
    from torch import nn
    act = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}[g["activation"]]
    layers, channels, hw = [], 1, 28
    k = g["kernel_size"]
    for i in range(g["nb_layers"]):
        f = g[f"nb_neurons_{i + 1}"]
        layers.append(nn.Conv2d(channels, f, k, padding=k // 2 if i == 0 else 0))
        hw = hw if i == 0 else hw - k + 1
        if g["batch_norm"] == "true":
            layers.append(nn.BatchNorm2d(f, eps=1e-3, momentum=0.1))
        layers.append(act())
        if i < 2:
            layers.append(nn.MaxPool2d(2) if g["pooling"] == "max" else nn.AvgPool2d(2))
            hw //= 2
        layers.append(nn.Dropout(g["dropout"]))
        channels = f
    if hw < 1:
        return None  # collapses, as deepevolve refuses it
    layers += [nn.Flatten(), nn.Linear(channels * hw * hw, g["dense_units"])]
    if g["batch_norm"] == "true":
        layers.append(nn.BatchNorm1d(g["dense_units"], eps=1e-3, momentum=0.1))
    layers += [act(), nn.Dropout(0.5), nn.Linear(g["dense_units"], 10)]
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def optimizer(g, params):
    import torch
    lr = g["learning_rate"]
    if g["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-7)
    if g["optimizer"] == "nadam":
        return torch.optim.NAdam(params, lr=lr, eps=1e-7)
    if g["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    return torch.optim.SGD(params, lr=lr)


def rate(g, epoch, epochs):
    base = g["learning_rate"]
    if g["lr_schedule"] == "cosine":
        return base * (1 + math.cos(math.pi * (epoch - 1) / max(epochs, 1))) / 2
    if g["lr_schedule"] == "step":
        if epoch > 3 * epochs // 4:
            return base * 0.01
        if epoch > epochs // 2:
            return base * 0.1
    return base


def augment(x, how, gen):
    import torch
    if how == "none":
        return x
    flip = torch.randint(0, 2, (len(x),), generator=gen).bool()
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    if how != "crop_flip":
        return x
    pad = 2
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (len(x),), generator=gen)
    n, c, h, w = x.shape
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    cols = (dx.view(n, 1) + torch.arange(w).view(1, w)).view(n, 1, 1, w).expand(n, c, h, w)
    return padded.gather(2, rows).gather(3, cols)


def accuracy(net, split):
    import torch
    net.eval()
    with torch.no_grad():
        correct = sum((net(split[0][b:b + 1024]).argmax(1) == split[1][b:b + 1024]).sum().item()
                      for b in range(0, len(split[0]), 1024))
    net.train()
    return correct / len(split[0])


def suggest(trial, space):
    """The genome an Optuna trial suggests over `space`: the layer count first, a width
    for each layer the genome has, then the other genes in the space's order."""
    g = {"nb_layers": trial.suggest_categorical("nb_layers", space["nb_layers"])}
    for name, values in space.items():
        layer = re.fullmatch(r"nb_neurons_(\d+)", name)
        if name == "nb_layers" or (layer and int(layer.group(1)) > g["nb_layers"]):
            continue
        g[name] = trial.suggest_categorical(name, values)
    return g


def run_optuna(pruner_name, seed, budget, epochs, data, log):
    import optuna
    import torch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.manual_seed(seed)
    train, val, test = data
    if pruner_name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs)
    else:
        pruner = optuna.pruners.MedianPruner()
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner)
    spent = {"epochs": 0}
    start = time.monotonic()
    timeline = []  # (seconds, best validation so far) at each fully trained genome
    best = {"val": -1, "test": 0}

    def objective(trial):
        g = suggest(trial, SPACE)
        net = build(g)
        if net is None:
            raise optuna.TrialPruned()
        opt = optimizer(g, net.parameters())
        decayed = [p for p in net.parameters() if p.dim() >= 2]
        gen = torch.Generator().manual_seed(seed * 1000 + trial.number)
        acc = 0
        for epoch in range(1, epochs + 1):
            lr = rate(g, epoch, epochs)
            for group in opt.param_groups:
                group["lr"] = lr
            order = torch.randperm(len(train[0]), generator=gen)
            for b in range(0, len(order), g["batch_size"]):
                i = order[b:b + g["batch_size"]]
                x = augment(train[0][i], g["augmentation"], gen)
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(x), train[1][i])
                if not torch.isfinite(loss):
                    raise optuna.TrialPruned()  # a failed genome, as NaN fails ours
                loss.backward()
                with torch.no_grad():
                    for p in decayed:
                        p.mul_(1 - lr * g["weight_decay"])
                opt.step()
            spent["epochs"] += 1
            acc = accuracy(net, val)
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        if acc > best["val"]:
            best["val"], best["test"] = acc, accuracy(net, test)
        timeline.append((time.monotonic() - start, best["val"]))
        return acc

    while spent["epochs"] < budget:
        study.optimize(objective, n_trials=1, catch=(RuntimeError,))
    seconds = time.monotonic() - start
    print(f"  optuna tpe+{pruner_name}: {len(study.trials)} trials, {spent['epochs']} epochs, "
          f"{seconds:.0f} s; best {best['val']:.4f} val, {best['test']:.4f} test", file=log,
          flush=True)
    return {"val": best["val"], "test": best["test"], "epochs": spent["epochs"], "seconds": seconds,
            "timeline": timeline}


def run_deepevolve(build_dir, strategy, seed, trials, epochs, train_limit, test_limit, threads,
                   out, log, population=None, ready_epochs=1, workers=1):
    """`strategy` with ASHA, or pbt (its own early stopping: no pruner) over `population`
    members in rounds of `ready_epochs`."""
    binary = os.path.join(build_dir, "cli", "deepevolve")
    cmd = [binary, "local", "--preset", "fashion_mnist_cnn_full", "--strategy", strategy,
           "--epochs", str(epochs), "--train-limit", str(train_limit), "--test-limit",
           str(test_limit), "--seed", str(seed), "--trainers", str(workers), "--threads",
           str(threads), "--no-live", "--out", out]
    if strategy == "pbt":
        cmd += ["--population", str(population), "--ready-epochs", str(ready_epochs)]
    else:
        cmd += ["--population", str(max(5, trials // 2)), "--trials", str(trials),
                "--pruner", "asha"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timeline = []  # (seconds, best validation so far), from the per-genome progress lines
    results = []   # (seconds, hash prefix, validation) of each result, as it came
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"best (\d\.\d+) ", line)
        if m:
            timeline.append((time.monotonic() - start, float(m.group(1))))
        m = re.search(r"last ([0-9a-f]{8}) (\d\.\d+)", line)
        if m:
            results.append((time.monotonic() - start, m.group(1), float(m.group(2))))
    proc.wait()
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {''.join(lines)[-2000:]}")
    with open(os.path.join(out, "genomes.json")) as f:
        genomes = json.load(f)
    # Networks trained fully: for pbt, the members' last rounds (the earlier rounds' results
    # are of networks still in training).
    full = [g for g in genomes if g["status"] == "ok" and g.get("stop_epoch", 0) == 0]
    best = max(full, key=lambda g: g["accuracy"])
    if strategy == "pbt":
        finals = {g["hash"][:8] for g in full}
        timeline, so_far = [], -1
        for at, prefix, val in results:
            if prefix in finals and val > so_far:
                so_far = val
                timeline.append((at, val))
    trained = sum(g["epochs_run"] - g.get("start_epoch", 0) for g in genomes
                  if g["status"] in ("ok", "pruned", "failed"))
    pruned = sum(g["status"] == "pruned" for g in genomes)
    print(f"  deepevolve {strategy}{'' if strategy == 'pbt' else '+asha'}: {len(genomes)} "
          f"trials ({pruned} pruned), {trained} epochs, {seconds:.0f} s; best "
          f"{best['accuracy']:.4f} val, {best['test_accuracy']:.4f} test", file=log, flush=True)
    return {"val": best["accuracy"], "test": best["test_accuracy"], "epochs": trained,
            "seconds": seconds, "timeline": timeline}


def first_reaching(timeline, level):
    """The seconds of the first (seconds, value) at or above `level`; inf if none."""
    for seconds, best in timeline:
        if best >= level:
            return seconds
    return math.inf


def run_arguments(doc, trials, train_limit):
    """The arguments of a comparison on real training (this one's, mo_real.py's)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=trials, help="deepevolve's genomes per search")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--train-limit", type=int, default=train_limit)
    return ap


def main():
    ap = run_arguments(__doc__, 12, 12000)
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads for each tool's training (deepevolve's and torch's)")
    ap.add_argument("--strategy", default="steady_state",
                    help="deepevolve's strategies, comma-separated (steady_state, guided, pbt): "
                         "the first one's epochs are every other run's budget")
    ap.add_argument("--population", type=int, default=8, help="pbt's members")
    ap.add_argument("--ready-epochs", type=int, default=1, help="pbt's epochs per round")
    ap.add_argument("--pruners", default="hyperband,median", help="Optuna's pruners to run")
    ap.add_argument("--workers", type=int, default=1,
                    help="deepevolve's workers (each with --threads); Optuna runs one trial "
                         "at a time")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    data = load(args.train_limit, args.test_limit)
    strategies = args.strategy.split(",")
    label = lambda s: "deepevolve pbt" if s == "pbt" else f"deepevolve {s} + ASHA"  # noqa: E731
    optuna_names = {"hyperband": "Optuna TPE + HyperbandPruner",
                    "median": "Optuna TPE + MedianPruner"}
    pruners = args.pruners.split(",")
    runs = {label(s): [] for s in strategies}
    runs.update({optuna_names[p]: [] for p in pruners})
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        print(f"seed {seed}", flush=True)
        budget = None
        for strategy in strategies:
            with tempfile.TemporaryDirectory(prefix="deepevolve-prune-") as out:
                ours = run_deepevolve(args.build, strategy, seed, args.trials, args.epochs,
                                      args.train_limit, args.test_limit, args.threads, out,
                                      sys.stdout, args.population, args.ready_epochs,
                                      args.workers)
            runs[label(strategy)].append(ours)
            budget = budget or ours["epochs"]
        for p in pruners:
            runs[optuna_names[p]].append(
                run_optuna(p, seed, budget, args.epochs, data, sys.stdout))
        # The accuracy every run of this seed reached: how soon each got there.
        level = min(r[-1]["val"] for r in runs.values())
        for name, r in runs.items():
            r[-1]["to_common"] = first_reaching(r[-1]["timeline"], level)
            print(f"  {name}: {r[-1]['to_common']:.0f} s to {level:.4f} val", flush=True)
        # The goal's measure: how soon each reached the best accuracy of Optuna's first
        # study (inf: never), against the study itself.
        if pruners:
            optuna = runs[optuna_names[pruners[0]]][-1]
            for name, r in runs.items():
                r[-1]["to_optuna_best"] = first_reaching(r[-1]["timeline"], optuna["val"])
                print(f"  {name}: {r[-1]['to_optuna_best']:.0f} s to Optuna's best "
                      f"{optuna['val']:.4f} val", flush=True)
        for name, r in runs.items():
            print(f"  timeline {json.dumps({'tool': name, 'seed': seed, 'timeline': r[-1]['timeline']})}",
                  flush=True)
    print("\n| tool | best val (median) | test of that genome (median) | epochs (median) | "
          "wall-clock (median) | to the accuracy every run of its seed reached (median) | "
          "to Optuna's best (median) |")
    print("|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        med = lambda k: statistics.median(x.get(k, math.inf) for x in r)  # noqa: E731
        print(f"| {name} | {100 * med('val'):.2f} % | {100 * med('test'):.2f} % | "
              f"{med('epochs'):.0f} | {med('seconds') / 60:.1f} min | "
              f"{med('to_common'):.0f} s | {med('to_optuna_best'):.0f} s |")


if __name__ == "__main__":
    main()
