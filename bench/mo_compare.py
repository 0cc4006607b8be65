#!/usr/bin/python3
"""Two objectives: the share of a table's Pareto-front hypervolume each tool has found
after 50, 100 and 200 distinct genomes, over many seeds.

On a fitness table with a `params` column (bench/data/*.csv; bench/data/README.md says
how the column was made), maximizes accuracy and minimizes params; on a bi-objective NK
landscape made here (two of Kauffman's NK landscapes over the same genes, different
random tables: `accuracy` and `f2`, both maximized — the MNK landscapes of Aguirre and
Tanaka, whose whole front is known by enumeration) maximizes both. Each strategy of the
master runs through `deepevolve sim --objective ...` (the real strategy code against
the table: no training); beside them Optuna 3.1's multi-objective samplers (Debian's
python3-optuna: NSGAIISampler and TPESampler, each with its defaults and the seed),
DEAP 1.3's NSGA-II (Debian's python3-deap: selNSGA2 survival, selTournamentDCD mating,
uniform crossover, uniform integer mutation, population 20) and random order. All are
measured alike: the objectives scaled between the ideal and the nadir point of the
table's Pareto front, the reference point 1 % below the nadir, failed genomes adding
nothing. Optuna's samplers and DEAP may propose a genome they have already tried; a user
would look the result up rather than train it again, so only distinct genomes count as
evaluations (a repeat is told its result, as search_compare.py's default does).

    /usr/bin/python3 bench/mo_compare.py --seeds 100 --tpe-seeds 20

Optuna's multi-objective TPE is by far the slowest part (it asks many repeats on small
spaces, each ask dearer as its history grows), hence its own seed count.
"""
import argparse
import csv
import multiprocessing
import random
import statistics
import subprocess
import tempfile
from pathlib import Path

import search_compare

ROOT = Path(__file__).resolve().parent.parent
AT = (50, 100, 200)


class MoTable(search_compare.Table):
    """search_compare's table, with each genome's two objectives (oriented to be
    maximized) where it has a result, and the table's front's ideal and nadir points."""

    def __init__(self, path, objectives):
        super().__init__(path, metrics=[c for c, _ in objectives])
        self.objectives = objectives  # [(column, +1 to maximize or -1 to minimize)] * 2
        self.points = {}
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                ok = r.get("status", "ok") == "ok" and r["accuracy"] not in ("", "nan")
                if ok:
                    key = tuple(r[g] for g in self.genes)
                    self.points[key] = tuple(sign * float(r[c]) for c, sign in objectives)
        self.front = nondominated(list(self.points.values()))
        self.low = [min(p[k] for p in self.front) for k in range(2)]
        self.high = [max(p[k] for p in self.front) for k in range(2)]
        self.volume = hypervolume([self.scaled(p) for p in self.front])

    def scaled(self, p):
        return tuple((p[k] - self.low[k]) / (self.high[k] - self.low[k]) for k in range(2))

    def share(self, keys):
        found = [self.scaled(self.points[k]) for k in keys if k in self.points]
        return hypervolume(found) / self.volume

    def result(self, key):
        """What a tool is told of a genome, in its columns' own senses; a failure is the
        worst of each."""
        p = self.points.get(key)
        if p is None:
            return tuple(-1e12 if sign > 0 else 1e12 for _, sign in self.objectives)
        return tuple(sign * v for (_, sign), v in zip(self.objectives, p))

    def flags(self):
        return [x for c, sign in self.objectives
                for x in ("--objective", f"{c}:{'max' if sign > 0 else 'min'}")]


def nondominated(points):
    """The points no other is at least as good as in both values and better in one."""
    front, best_y = [], None
    for x, y in sorted(set(points), key=lambda p: (-p[0], -p[1])):
        if best_y is None or y > best_y:
            front.append((x, y))
            best_y = y
    return front


def hypervolume(points, ref=(-0.01, -0.01)):
    """Two maximized objectives: the area the points bound above `ref`."""
    points = sorted((p for p in points if p[0] > ref[0] and p[1] > ref[1]), reverse=True)
    area, height = 0.0, ref[1]
    for x, y in points:  # x falling: each point adds its strip above the last height
        if y > height:
            area += (x - ref[0]) * (y - height)
            height = y
    return area


def mnk_table(n, a, k, seed, path):
    """Two NK landscapes over the same n genes (random tables from `seed` and the next),
    as the columns accuracy and f2."""
    first, second = Path(path).with_suffix(".1"), Path(path).with_suffix(".2")
    search_compare.nk_table(n, a, k, seed, first)
    search_compare.nk_table(n, a, k, seed + 1000, second)
    with open(first, newline="") as f1, open(second, newline="") as f2, \
            open(path, "w", newline="") as out:
        r1, r2, w = csv.reader(f1), csv.reader(f2), csv.writer(out)
        header = next(r1)
        next(r2)
        w.writerow(header[:-2] + ["accuracy", "f2", "status"])
        for a_row, b_row in zip(r1, r2):
            w.writerow(a_row[:-2] + [a_row[-2], b_row[-2], "ok"])


def count_distinct(table, propose):
    """Calls propose() for genomes until AT[-1] distinct ones (or five times as many
    proposals); the shares after AT of them."""
    seen, found, shares = set(), [], []
    for _ in range(AT[-1] * 5):  # repeats are free, but not endless
        key = propose()
        if key is None:
            break
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


def run_optuna(table, seed, which):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if which == "nsga2"
               else optuna.samplers.TPESampler(seed=seed))
    directions = ["maximize" if sign > 0 else "minimize" for _, sign in table.objectives]
    study = optuna.create_study(directions=directions, sampler=sampler)

    def propose():
        trial = study.ask()
        key = table.suggest(trial)
        study.tell(trial, list(table.result(key)))
        return key

    return count_distinct(table, propose)


def run_deap(table, seed, population=20, cxpb=0.9):
    """DEAP's NSGA-II as its example sets it up (examples/ga/nsga2.py), on integer genes:
    selTournamentDCD picks parents, uniform crossover with cxpb, uniform integer mutation
    of each gene with 1 / genes, selNSGA2 keeps the best of parents and children."""
    from deap import base, creator, tools

    if not hasattr(creator, "FitnessMo"):
        creator.create("FitnessMo", base.Fitness, weights=(1.0, 1.0))
        creator.create("MoIndividual", list, fitness=creator.FitnessMo)
    rng = random.Random(seed)
    random.seed(seed)  # DEAP's operators draw from the module's generator
    sizes = [len(table.values[g]) for g in table.genes]
    toolbox = base.Toolbox()
    toolbox.register("mate", tools.cxUniform, indpb=0.5)
    toolbox.register("mutate", tools.mutUniformInt, low=[0] * len(sizes),
                     up=[n - 1 for n in sizes], indpb=1.0 / len(sizes))

    def key_of(ind):
        return table.key({g: table.values[g][v] for g, v in zip(table.genes, ind)})

    def evaluate(ind):
        # Oriented to be maximized, as the table's points are; a failure is worst.
        return table.points.get(key_of(ind), (-1e12, -1e12))

    queue = []

    def generations():
        pop = [creator.MoIndividual(rng.randrange(n) for n in sizes) for _ in range(population)]
        for ind in pop:
            ind.fitness.values = evaluate(ind)
            yield key_of(ind)
        pop = tools.selNSGA2(pop, len(pop))  # assigns the crowding distance DCD reads
        while True:
            offspring = [toolbox.clone(i) for i in tools.selTournamentDCD(pop, len(pop))]
            for a, b in zip(offspring[::2], offspring[1::2]):
                if random.random() <= cxpb:
                    toolbox.mate(a, b)
                toolbox.mutate(a)
                toolbox.mutate(b)
                del a.fitness.values, b.fitness.values
            for ind in offspring:
                ind.fitness.values = evaluate(ind)
                yield key_of(ind)
            pop = tools.selNSGA2(pop + offspring, population)

    stream = generations()
    return count_distinct(table, lambda: next(stream))


def run_random(table, seed):
    keys = sorted(table.fitness)
    random.Random(seed).shuffle(keys)
    return [table.share(keys[:n]) for n in AT]


def job(args):
    path, objectives, seed, which = args
    table = MoTable(path, objectives)
    if which == "deap":
        return run_deap(table, seed)
    return run_optuna(table, seed, which)


STRATEGY_ARGS = {"guided": ["--population", "20", "--trials", str(AT[-1])],
                 "steady_state": ["--population", "20", "--trials", str(AT[-1])],
                 "generational": ["--population", "20", "--generations", "12"],
                 "random": ["--trials", str(AT[-1])]}


def run_deepevolve(binary, table, path, strategy, seeds):
    out = subprocess.run(
        [binary, "sim", "--table", str(path), "--strategy", strategy, *STRATEGY_ARGS[strategy],
         *table.flags(), "--seeds", str(seeds)],
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
    parser.add_argument("--tpe-seeds", type=int, default=None,
                        help="seeds for Optuna's multi-objective TPE (default: --seeds)")
    parser.add_argument("--tables", default="fashion_mnist_mlp_rich,fashion_mnist_mlp_grid_4epochs")
    parser.add_argument("--mnk", action="append", default=None, metavar="N,A,K",
                        help="a bi-objective NK landscape (default: 6,4,1 and 6,4,3)")
    parser.add_argument("--tools", default="guided,steady_state,generational,random,nsga2,tpe,"
                        "deap,random-order")
    args = parser.parse_args()
    tools = args.tools.split(",")
    tpe_seeds = args.tpe_seeds or args.seeds
    tables = [(ROOT / "bench" / "data" / f"{name}.csv", name, [("accuracy", 1), ("params", -1)])
              for name in args.tables.split(",") if name]
    tmp = tempfile.TemporaryDirectory()
    for spec in args.mnk if args.mnk is not None else ["6,4,1", "6,4,3"]:
        n, a, k = map(int, spec.split(","))
        path = Path(tmp.name) / f"mnk_{n}_{a}_{k}.csv"
        mnk_table(n, a, k, 1, path)
        tables.append((path, f"bi-objective NK landscape N={n} A={a} K={k} (seed 1)",
                       [("accuracy", 1), ("f2", 1)]))
    with multiprocessing.Pool() as pool:
        for path, name, objectives in tables:
            table = MoTable(path, objectives)
            print(f"\n{name}: {len(table.fitness)} genomes, {len(table.front)} on the front; "
                  f"hypervolume share after {' / '.join(map(str, AT))} genomes, "
                  f"median (10th percentile) of {args.seeds} seeds "
                  f"(Optuna TPE: {tpe_seeds})")
            if len(table.front) <= 12:
                for key, p in sorted(table.points.items(), key=lambda kv: kv[1], reverse=True):
                    if p not in table.front:
                        continue
                    genes = " ".join(f"{g}={v}" for g, v in zip(table.genes, key) if v != "")
                    values = ", ".join(f"{c} {sign * v:g}" for (c, sign), v in zip(objectives, p))
                    print(f"    front: {values}: {genes}")
            print()
            print("| tool | " + " | ".join(f"after {n}" for n in AT) + " |")
            print("|---|" + "---|" * len(AT))
            for strategy in STRATEGY_ARGS:
                if strategy in tools:
                    runs = run_deepevolve(args.bin, table, path, strategy, args.seeds)
                    print(summary(f"deepevolve {strategy}", runs), flush=True)
            for which, label in [("nsga2", "Optuna NSGAIISampler"),
                                 ("tpe", "Optuna TPESampler (multi-objective)"),
                                 ("deap", "DEAP NSGA-II")]:
                if which not in tools:
                    continue
                seeds = tpe_seeds if which == "tpe" else args.seeds
                runs = pool.map(job, [(path, objectives, s, which) for s in range(1, seeds + 1)])
                print(summary(label, runs), flush=True)
            if "random-order" in tools:
                print(summary("random order", [run_random(table, s)
                                               for s in range(1, args.seeds + 1)]))


if __name__ == "__main__":
    main()
