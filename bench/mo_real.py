#!/usr/bin/python3
"""Accuracy against size on real training: deepevolve's guided search with multi-objective
ASHA against Optuna 3.1's NSGAIISampler (Debian's python3-optuna; its pruners do not work
in multi-objective studies) driving Debian's python3-torch, over the same MLP space (the
`fashion_mnist_mlp_full` preset's genes), the same data (the first --train-limit
Fashion-MNIST training images, 10 % of them held out for validation), the same epochs per
genome and the same total epoch budget. Both maximize validation accuracy and minimize the
trainable parameter count (exact on both sides: the same network).

For each seed deepevolve runs first (`deepevolve local --strategy guided --pruner asha
--objective accuracy:max --objective params:min`); the epochs its genomes trained are the
budget the Optuna study runs to. Each run's hypervolume over wall-clock is measured
against the seed's reference front — the non-dominated genomes both runs trained fully —
with the objectives scaled between that front's ideal and nadir points and the reference
1 % below the nadir, as bench/mo_compare.py does. Prints per run the final share and the
seconds to the share both runs reached; then one Markdown row per tool (medians).

  /usr/bin/python3 bench/mo_real.py --seeds 3 --trials 24 --epochs 4 \\
      --train-limit 8000 --threads 1

The torch network is built as deepevolve's trainer builds an MLP (worker/trainer/model.cc):
dense layers with batch norm before the activation, dropout after it, a dense head;
glorot-uniform weights; the optimizers, schedules and weight decay of prune_compare.py.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prune_compare  # noqa: E402
from mo_compare import hypervolume, nondominated  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACE = {
    "nb_layers": [1, 2, 3],
    "nb_neurons_1": [128, 256, 512, 1024], "nb_neurons_2": [128, 256, 512, 1024],
    "nb_neurons_3": [128, 256, 512, 1024],
    "activation": ["relu", "elu", "tanh"], "optimizer": ["adam", "nadam", "rmsprop", "sgd"],
    "learning_rate": [1e-4, 0.000316, 0.001, 0.00316, 0.01, 0.0316, 0.1],
    "batch_size": [32, 64, 128, 256], "dropout": [0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "weight_decay": [0, 1e-5, 1e-4, 0.001], "lr_schedule": ["constant", "cosine", "step"],
    "batch_norm": ["false", "true"],
}


def build(g):
    from torch import nn
    act = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}[g["activation"]]
    layers, width = [nn.Flatten()], 28 * 28
    for i in range(g["nb_layers"]):
        n = g[f"nb_neurons_{i + 1}"]
        layers.append(nn.Linear(width, n))
        if g["batch_norm"] == "true":
            layers.append(nn.BatchNorm1d(n, eps=1e-3, momentum=0.01))
        layers += [act(), nn.Dropout(g["dropout"])]
        width = n
    layers.append(nn.Linear(width, 10))
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def run_optuna(seed, budget, epochs, data, log):
    import optuna
    import torch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.manual_seed(seed)
    train, val, _ = data
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=seed))
    spent = {"epochs": 0}
    start = time.monotonic()
    points = []  # (seconds, accuracy, params) of each genome trained fully

    def objective(trial):
        g = prune_compare.suggest(trial, SPACE)
        net = build(g)
        params = sum(p.numel() for p in net.parameters())
        opt = prune_compare.optimizer(g, net.parameters())
        decayed = [p for p in net.parameters() if p.dim() >= 2]
        gen = torch.Generator().manual_seed(seed * 1000 + trial.number)
        acc = 0
        for epoch in range(1, epochs + 1):
            lr = prune_compare.rate(g, epoch, epochs)
            for group in opt.param_groups:
                group["lr"] = lr
            order = torch.randperm(len(train[0]), generator=gen)
            for b in range(0, len(order), g["batch_size"]):
                i = order[b:b + g["batch_size"]]
                if len(i) < 2 and g["batch_norm"] == "true":
                    continue  # batch norm cannot train on one example
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(train[0][i]), train[1][i])
                if not torch.isfinite(loss):
                    spent["epochs"] += epoch
                    raise optuna.TrialPruned()  # a failed genome, as NaN fails ours
                loss.backward()
                with torch.no_grad():
                    for p in decayed:
                        p.mul_(1 - lr * g["weight_decay"])
                opt.step()
            acc = prune_compare.accuracy(net, val)
        spent["epochs"] += epochs
        points.append((time.monotonic() - start, acc, params))
        return acc, params

    while spent["epochs"] < budget:
        study.optimize(objective, n_trials=1, catch=(RuntimeError,))
    seconds = time.monotonic() - start
    print(f"  optuna nsga2: {len(study.trials)} trials, {spent['epochs']} epochs, {seconds:.0f} s",
          file=log, flush=True)
    return {"epochs": spent["epochs"], "seconds": seconds, "points": points}


def run_deepevolve(build_dir, seed, trials, epochs, train_limit, threads, out, log):
    binary = os.path.join(build_dir, "cli", "deepevolve")
    cmd = [binary, "local", "--preset", "fashion_mnist_mlp_full", "--strategy", "guided",
           "--population", str(max(5, trials // 2)), "--trials", str(trials), "--epochs",
           str(epochs), "--train-limit", str(train_limit), "--test-limit", "1000",
           "--pruner", "asha", "--objective", "accuracy:max", "--objective", "params:min",
           "--seed", str(seed), "--trainers", "1", "--threads", str(threads), "--no-live",
           "--out", out]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finished = {}  # hash prefix -> seconds its result arrived
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"last ([0-9a-f]{8}) ", line)
        if m and m.group(1) not in finished:
            finished[m.group(1)] = time.monotonic() - start
    proc.wait()
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {''.join(lines)[-2000:]}")
    with open(os.path.join(out, "genomes.json")) as f:
        genomes = json.load(f)
    trained = sum(g["epochs_run"] for g in genomes if g["status"] in ("ok", "pruned", "failed"))
    pruned = sum(g["status"] == "pruned" for g in genomes)
    points = sorted((finished.get(g["hash"][:8], seconds), g["accuracy"], g["metrics"]["params"])
                    for g in genomes if g["status"] == "ok")
    print(f"  deepevolve guided + ASHA: {len(genomes)} genomes ({pruned} pruned), {trained} "
          f"epochs, {seconds:.0f} s", file=log, flush=True)
    return {"epochs": trained, "seconds": seconds, "points": points}


def shares(points, front):
    """The share of `front`'s hypervolume the points found by each time: [(s, share)]."""
    low = [min(p[k] for p in front) for k in range(2)]
    high = [max(p[k] for p in front) for k in range(2)]
    scale = lambda p: tuple((p[k] - low[k]) / ((high[k] - low[k]) or 1) for k in range(2))  # noqa
    total = hypervolume([scale(p) for p in front])
    out, seen = [], []
    for seconds, acc, params in points:
        seen.append(scale((acc, -params)))
        out.append((seconds, hypervolume(seen) / total))
    return out


def main():
    ap = prune_compare.run_arguments(__doc__, 24, 8000)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for each tool's training (deepevolve's and torch's)")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    train, val, test = prune_compare.load(args.train_limit, 1000)
    data = ((train[0].flatten(1), train[1]), (val[0].flatten(1), val[1]), test)
    names = ("deepevolve guided + ASHA", "Optuna NSGAIISampler")
    runs = {n: [] for n in names}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        print(f"seed {seed}", flush=True)
        with tempfile.TemporaryDirectory(prefix="deepevolve-mo-real-") as out:
            ours = run_deepevolve(args.build, seed, args.trials, args.epochs, args.train_limit,
                                  args.threads, out, sys.stdout)
        theirs = run_optuna(seed, ours["epochs"], args.epochs, data, sys.stdout)
        front = nondominated([(a, -p) for r in (ours, theirs) for _, a, p in r["points"]])
        for name, r in zip(names, (ours, theirs)):
            r["timeline"] = shares(r["points"], front)
            r["share"] = r["timeline"][-1][1] if r["timeline"] else 0
        level = min(ours["share"], theirs["share"])
        for name, r in zip(names, (ours, theirs)):
            r["to_common"] = prune_compare.first_reaching(r["timeline"], level)
            runs[name].append(r)
            print(f"  {name}: share {r['share']:.3f} of the seed's front ({len(front)} genomes) "
                  f"in {r['seconds']:.0f} s; {r['to_common']:.0f} s to {level:.3f}", flush=True)
    print("\n| tool | hypervolume share at the budget (median) | epochs (median) | "
          "wall-clock (median) | to the share both runs of its seed reached (median) |")
    print("|---|---|---|---|---|")
    for name, r in runs.items():
        med = lambda k: statistics.median(x[k] for x in r)  # noqa: E731
        print(f"| {name} | {med('share'):.3f} | {med('epochs'):.0f} | "
              f"{med('seconds') / 60:.1f} min | {med('to_common'):.0f} s |")


if __name__ == "__main__":
    main()
