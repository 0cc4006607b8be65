#!/usr/bin/python3
"""Accuracy against size: the share of a table's Pareto-front hypervolume each tool has
found after 50, 100 and 200 distinct genomes, over many seeds.

On a fitness table with a `params` column (bench/data/*.csv; bench/data/README.md says
how the column was made), maximizes accuracy and minimizes params with each strategy of
the master through `deepevolve sim --objective accuracy:max --objective params:min` (the
real strategy code against the table: no training), and with Optuna 3.1's
multi-objective samplers (Debian's python3-optuna: NSGAIISampler and TPESampler, each
with its defaults and the seed), and random order. Both sides are measured alike: the
objectives scaled between the ideal and the nadir point of the table's Pareto front, the
reference point 1 % below the nadir, failed genomes adding nothing. Optuna's samplers may
propose a genome they have already tried; a user would look the result up rather than
train it again, so only distinct genomes count as evaluations (a repeat is told its
result, as search_compare.py's default does).

    /usr/bin/python3 bench/mo_compare.py --seeds 20
"""
import argparse
import multiprocessing
import statistics
import subprocess
from pathlib import Path

import search_compare

ROOT = Path(__file__).resolve().parent.parent
AT = (50, 100, 200)


class MoTable(search_compare.Table):
    """search_compare's table, with each genome's (accuracy, -params) where it has a
    result, and the table's front's ideal and nadir points."""

    def __init__(self, path):
        super().__init__(path)
        import csv
        self.points = {}
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                ok = r.get("status", "ok") == "ok" and r["accuracy"] not in ("", "nan")
                if ok:
                    key = tuple(r[g] for g in self.genes)
                    self.points[key] = (float(r["accuracy"]), -float(r["params"]))
        front = nondominated(list(self.points.values()))
        self.low = [min(p[k] for p in front) for k in range(2)]
        self.high = [max(p[k] for p in front) for k in range(2)]
        self.volume = hypervolume([self.scaled(p) for p in front])

    def scaled(self, p):
        return tuple((p[k] - self.low[k]) / (self.high[k] - self.low[k]) for k in range(2))

    def share(self, keys):
        found = [self.scaled(self.points[k]) for k in keys if k in self.points]
        return hypervolume(found) / self.volume


def nondominated(points):
    return [p for p in points
            if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]


def hypervolume(points, ref=(-0.01, -0.01)):
    """Two maximized objectives: the area the points bound above `ref`."""
    points = sorted((p for p in points if p[0] > ref[0] and p[1] > ref[1]), reverse=True)
    area, height = 0.0, ref[1]
    for x, y in points:  # x falling: each point adds its strip above the last height
        if y > height:
            area += (x - ref[0]) * (y - height)
            height = y
    return area


def run_optuna(table, seed, which):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if which == "nsga2"
               else optuna.samplers.TPESampler(seed=seed))
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    seen, found, shares = set(), [], []
    for _ in range(AT[-1] * 5):  # repeats are free, but not endless
        trial = study.ask()
        key = table.suggest(trial)
        acc, neg_params = table.points.get(key, (0.0, -1e12))
        study.tell(trial, [acc, -neg_params])
        if key in seen:
            continue
        seen.add(key)
        found.append(key)
        if len(found) in AT:
            shares.append(table.share(found))
            if len(shares) == len(AT):
                break
    while len(shares) < len(AT):
        shares.append(table.share(found))
    return shares


def run_random(table, seed):
    import random
    keys = sorted(table.fitness)
    random.Random(seed).shuffle(keys)
    return [table.share(keys[:n]) for n in AT]


def optuna_job(job):
    path, seed, which = job
    return run_optuna(MoTable(path), seed, which)


def run_deepevolve(binary, path, strategy, seeds):
    args = {"steady_state": ["--population", "20", "--trials", str(AT[-1])],
            "generational": ["--population", "20", "--generations", "12"],
            "random": ["--trials", str(AT[-1])]}[strategy]
    out = subprocess.run(
        [binary, "sim", "--table", str(path), "--strategy", strategy, *args, "--objective",
         "accuracy:max", "--objective", "params:min", "--seeds", str(seeds)],
        check=True, capture_output=True, text=True).stdout
    runs = []
    for line in out.splitlines():
        if line.startswith("seed "):
            runs.append([float(x) for x in line.split(":", 1)[1].split()])
    return runs


def summary(name, runs):
    cells = []
    for k in range(len(AT)):
        xs = sorted(r[k] for r in runs)
        cells.append(f"{statistics.median(xs):.3f} ({search_compare.percentile(xs, 0.1):.3f})")
    return f"| {name} | " + " | ".join(cells) + " |"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(ROOT / "build" / "cli" / "deepevolve"))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tables", default="fashion_mnist_mlp_rich,fashion_mnist_mlp_grid_4epochs")
    args = parser.parse_args()
    with multiprocessing.Pool() as pool:
        for name in args.tables.split(","):
            path = ROOT / "bench" / "data" / f"{name}.csv"
            table = MoTable(path)
            print(f"\n{name}: {len(table.fitness)} genomes, "
                  f"{len(nondominated(list(table.points.values())))} on the front; "
                  f"hypervolume share after {' / '.join(map(str, AT))} genomes, "
                  f"median (10th percentile) of {args.seeds} seeds")
            front = [(p, key) for key, p in table.points.items()
                     if p in nondominated(list(table.points.values()))]
            for (acc, neg_params), key in sorted(front, reverse=True):
                genes = " ".join(f"{g}={v}" for g, v in zip(table.genes, key) if v != "")
                print(f"    front: {100 * acc:.2f} % with {-neg_params:.0f} params: {genes}")
            print()
            print("| tool | " + " | ".join(f"after {n}" for n in AT) + " |")
            print("|---|" + "---|" * len(AT))
            for strategy in ["steady_state", "generational", "random"]:
                runs = run_deepevolve(args.bin, path, strategy, args.seeds)
                print(summary(f"deepevolve {strategy}", runs), flush=True)
            for which, label in [("nsga2", "Optuna NSGAIISampler"),
                                 ("tpe", "Optuna TPESampler (multi-objective)")]:
                runs = pool.map(optuna_job, [(path, s, which) for s in range(1, args.seeds + 1)])
                print(summary(label, runs), flush=True)
            print(summary("random order", [run_random(table, s)
                                           for s in range(1, args.seeds + 1)]))


if __name__ == "__main__":
    main()
