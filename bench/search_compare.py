#!/usr/bin/python3
"""Evaluations each search strategy needs to reach a near-best genome, over many seeds.

Runs `deepevolve sim` (each strategy of the master against a fitness table: no training,
the real strategy code) and DEAP's eaSimple (Debian's python3-deap, the outside
reference) on the same table, and counts for each seed the evaluations up to and
including the first genome within --gap of the table's best. A run that has not reached
it within its budget counts as not reached (infinite) in the percentiles. Brute force is
the expected cost of trying the table's genomes in random order, (n + 1) / (hits + 1).

    /usr/bin/python3 bench/search_compare.py --seeds 200
"""
import argparse
import csv
import math
import random
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT_COLUMNS = {"hash", "id", "mom", "dad", "generation", "accuracy", "test_accuracy",
                  "train_seconds", "epochs_run", "status", "ledger_hit", "seed", "worker",
                  "error"}


def load_table(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    genes = [c for c in rows[0].keys() if c not in RESULT_COLUMNS]
    values = {g: [] for g in genes}
    for r in rows:
        for g in genes:
            if r[g] not in values[g]:
                values[g].append(r[g])
    fitness = {}
    for r in rows:
        key = tuple(values[g].index(r[g]) for g in genes)
        ok = r.get("status", "ok") == "ok" and r["accuracy"] != ""
        fitness[key] = float(r["accuracy"]) if ok else 0.0
    return genes, values, fitness


def percentile(xs, p):
    """Nearest-rank percentile; inf (not reached) sorts last."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))]


def run_deepevolve(binary, table, strategy, seeds, gap):
    out = subprocess.run(
        [binary, "sim", "--table", str(table), "--strategy", strategy, "--seeds", str(seeds),
         "--target", f"best-{gap}"],
        check=True, capture_output=True, text=True).stdout
    evals = []
    for line in out.splitlines():
        m = re.match(r"seed \d+: (\d+) evaluations", line)
        if m:
            evals.append(int(m.group(1)))
        elif re.match(r"seed \d+: not reached", line):
            evals.append(math.inf)
    if len(evals) != seeds:
        sys.exit(f"search_compare: could not read deepevolve sim's output:\n{out}")
    return evals


def run_deap(genes, values, fitness, target, seed, budget, population, cxpb, mutpb):
    """DEAP's eaSimple as its tutorials set it up: tournament of 3, uniform crossover,
    uniform integer mutation. Every evaluation counts, as a DEAP user would train each
    one (DEAP keeps no cache of genomes it has seen)."""
    from deap import algorithms, base, creator, tools

    if not hasattr(creator, "FitnessMax"):
        creator.create("FitnessMax", base.Fitness, weights=(1.0,))
        creator.create("Individual", list, fitness=creator.FitnessMax)
    random.seed(seed)
    sizes = [len(values[g]) for g in genes]
    toolbox = base.Toolbox()
    toolbox.register("individual", lambda: creator.Individual(
        random.randrange(n) for n in sizes))
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    state = {"evals": 0, "hit": math.inf}

    def evaluate(ind):
        state["evals"] += 1
        acc = fitness[tuple(ind)]
        if acc >= target and state["evals"] <= budget:
            state["hit"] = min(state["hit"], state["evals"])
        return (acc,)

    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", tools.cxUniform, indpb=0.5)
    toolbox.register("mutate", tools.mutUniformInt, low=[0] * len(sizes),
                     up=[n - 1 for n in sizes], indpb=1.0 / len(sizes))
    toolbox.register("select", tools.selTournament, tournsize=3)
    pop = toolbox.population(n=population)
    # Enough generations to spend the budget (about population x (cxpb + mutpb) new
    # individuals a generation); evaluations past the budget do not count.
    ngen = max(1, math.ceil((budget - population) / max(1.0, population * (cxpb + mutpb) * 0.8)))
    algorithms.eaSimple(pop, toolbox, cxpb=cxpb, mutpb=mutpb, ngen=ngen, verbose=False)
    return state["hit"]


def brute_force_quantile(n, hits, p):
    """Evaluations brute force in random order needs to hit one of `hits` among `n` with
    probability p: the least k with 1 - C(n - hits, k) / C(n, k) >= p."""
    miss = 1.0
    for k in range(1, n + 1):
        miss *= (n - hits - (k - 1)) / (n - (k - 1))
        if 1 - miss >= p:
            return k
    return n


def summarize(name, evals, brute_median, brute_p90):
    reached = [e for e in evals if e != math.inf]
    med = statistics.median(evals) if len(reached) * 2 > len(evals) else math.inf
    p90 = percentile(evals, 0.9)
    fmt = lambda x: "not reached" if x == math.inf else f"{x:g}"
    ratio = lambda b, x: "-" if x == math.inf else f"{b / x:.2f}x"
    return (f"| {name} | {len(reached)}/{len(evals)} | {fmt(med)} | {fmt(p90)} | "
            f"{ratio(brute_median, med)} | {ratio(brute_p90, p90)} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", default=ROOT / "bench/data/fashion_mnist_mlp_grid.csv")
    ap.add_argument("--deepevolve", default=ROOT / "build/cli/deepevolve")
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.005, help="within this of the best")
    ap.add_argument("--budget", type=int, default=240,
                    help="evaluations DEAP may spend (deepevolve's default plans: 30 x 8 "
                    "generational, 240 steady-state and random)")
    args = ap.parse_args()

    genes, values, fitness = load_table(args.table)
    best = max(fitness.values())
    target = best - args.gap
    hits = sum(1 for a in fitness.values() if a >= target - 1e-12)
    brute = (len(fitness) + 1) / (hits + 1)
    brute_median = brute_force_quantile(len(fitness), hits, 0.5)
    brute_p90 = brute_force_quantile(len(fitness), hits, 0.9)
    print(f"table {args.table}: {len(fitness)} genomes, best {best:.4f}, target {target:.4f} "
          f"({hits} genomes reach it); brute force in random order: {brute:.1f} expected "
          f"evaluations, median {brute_median}, p90 {brute_p90}; {args.seeds} seeds\n")
    rows = ["| strategy | reached | median evaluations | p90 | speed-up at the median "
            "(brute force's / this) | at p90 |", "|---|---|---|---|---|---|",
            f"| brute force, random order (exact) | - | {brute_median} | {brute_p90} | 1.00x | "
            "1.00x |"]
    for strategy in ["generational", "generational_compat", "steady_state", "random"]:
        evals = run_deepevolve(str(args.deepevolve), args.table, strategy, args.seeds, args.gap)
        rows.append(summarize(f"deepevolve {strategy}", evals, brute_median, brute_p90))
    for population, cxpb, mutpb in [(30, 0.5, 0.2)]:
        evals = [run_deap(genes, values, fitness, target - 1e-12, s, args.budget, population,
                          cxpb, mutpb) for s in range(1, args.seeds + 1)]
        rows.append(summarize(f"DEAP eaSimple (pop {population}, cxpb {cxpb}, mutpb {mutpb})",
                              evals, brute_median, brute_p90))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
