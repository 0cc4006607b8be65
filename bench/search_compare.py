#!/usr/bin/python3
"""Evaluations each search strategy needs to reach a near-best genome, over many seeds.

On each fitness table — a CSV of genomes and accuracies as `deepevolve local` writes
it, or a synthetic NK landscape made here — runs each strategy of the master through
`deepevolve sim` (the real strategy code against the table: no training), DEAP's
eaSimple (Debian's python3-deap), and Optuna 3.1's samplers (Debian's python3-optuna:
TPE multivariate with constant liar, TPE with its defaults, NSGA-II), aging evolution
screened by XGBoost (Debian's python3-xgboost: the guided strategy's scheme with a
gradient-boosted model instead of its density ratio), and counts for
each seed the evaluations up to and including the first genome within --gap of the
table's best. A run that has not reached it within --budget counts as not reached
(infinite) in the percentiles. Brute force is trying the table in random order (exact
quantiles).

Optuna's samplers may propose a genome they have already tried; a user would look the
result up rather than train it again, so only distinct genomes count as evaluations
for them (DEAP's repeats all count: it keeps no record of what it evaluated); with
--optuna-repeats fail a repeat is told as a failed trial, so it adds no observation. With
--workers W > 1 every tool runs W simulated workers whose trainings take a uniform
random time in [0.5, 1.5) units per epoch, so results arrive out of order; an
evaluation is a result that arrived.

    /usr/bin/python3 bench/search_compare.py --seeds 100
    /usr/bin/python3 bench/search_compare.py --seeds 100 --workers 8 --tools guided,tpe-cl
"""
import argparse
import csv
import itertools
import math
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT_COLUMNS = {"hash", "id", "mom", "dad", "generation", "accuracy", "test_accuracy",
                  "train_seconds", "epochs_run", "status", "ledger_hit", "seed", "worker",
                  "error", "curve", "val_accuracy", "uid", "parents", "search",
                  "pruned_at_epoch", "params", "model_bytes", "epoch_seconds", "latency_ms"}
DEEPEVOLVE = ["guided", "steady_state", "generational", "random"]
OTHERS = ["deap", "tpe-cl", "tpe", "nsga2", "xgb"]
NAMES = {"guided": "deepevolve guided", "steady_state": "deepevolve steady_state",
         "generational": "deepevolve generational", "random": "deepevolve random",
         "deap": "DEAP eaSimple (pop 30, cxpb 0.5, mutpb 0.2)",
         "tpe-cl": "Optuna TPE (multivariate, constant liar)", "tpe": "Optuna TPE (default)",
         "nsga2": "Optuna NSGA-II (default)",
         "xgb": "aging evolution screened by XGBoost (python3-xgboost)"}
LAYER_GENE = re.compile(r"nb_neurons_(\d+)$")


class Table:
    """Genes, their values, and the accuracy of each genome; a genome is a tuple of
    value strings, '' for a gene it does not use (a layer width beyond nb_layers)."""

    def __init__(self, path, metrics=()):
        """`metrics`: the table's other result columns (not genes), as `sim` is told by
        its --objective flags."""
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        self.genes = [c for c in rows[0].keys()
                      if c not in RESULT_COLUMNS and c not in metrics]
        self.values = {g: [] for g in self.genes}
        self.fitness = {}
        for r in rows:
            for g in self.genes:
                if r[g] != "" and r[g] not in self.values[g]:
                    self.values[g].append(r[g])
            ok = r.get("status", "ok") == "ok" and r["accuracy"] not in ("", "nan")
            self.fitness[tuple(r[g] for g in self.genes)] = float(r["accuracy"]) if ok else 0.0
        for g in self.genes:  # numbers in order, as deepevolve sim sorts them
            try:
                self.values[g].sort(key=float)
            except ValueError:
                pass
        self.layered = "nb_layers" in self.genes and any(LAYER_GENE.match(g) for g in self.genes)

    def active(self, gene, assignment):
        m = LAYER_GENE.match(gene)
        if not self.layered or not m:
            return True
        return int(m.group(1)) <= int(assignment["nb_layers"])

    def key(self, assignment):
        return tuple(assignment[g] if self.active(g, assignment) else "" for g in self.genes)

    def suggest(self, trial):
        """The genome an Optuna trial suggests: the layer count first, and a layer's
        width only when the genome has the layer."""
        order = sorted(self.genes, key=lambda g: LAYER_GENE.match(g) is not None)
        assignment = {}
        for g in order:
            if self.active(g, assignment):
                assignment[g] = trial.suggest_categorical(g, self.values[g])
        return self.key(assignment)


def nk_table(n, a, k, seed, path):
    """Kauffman's NK landscape: n genes of a unordered values; gene i's contribution is a
    random table over its value and the next k genes' (cyclically); fitness is the mean
    of the contributions. k = 0 is smooth (one optimum), k = n - 1 fully random."""
    rng = random.Random(seed)
    alleles = "abcdefghij"[:a]
    parts = [[rng.random() for _ in range(a ** (k + 1))] for _ in range(n)]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"g{i + 1}" for i in range(n)] + ["accuracy", "status"])
        for x in itertools.product(range(a), repeat=n):
            total = 0.0
            for i in range(n):
                index = 0
                for j in range(k + 1):
                    index = index * a + x[(i + j) % n]
                total += parts[i][index]
            w.writerow([alleles[v] for v in x] + [f"{total / n:.6f}", "ok"])


def percentile(xs, p):
    """Nearest-rank percentile; inf (not reached) sorts last."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))]


def run_deepevolve(binary, table, strategy, seeds, gap, budget, workers):
    cmd = [binary, "sim", "--table", str(table), "--strategy", strategy, "--seeds", str(seeds),
           "--target", f"best-{gap}", "--workers", str(workers)]
    if strategy == "generational":
        cmd += ["--population", "30", "--generations", str(max(1, budget // 30))]
    else:
        cmd += ["--trials", str(budget)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
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


def run_deap(table, target, seed, budget, population=30, cxpb=0.5, mutpb=0.2):
    """DEAP's eaSimple as its tutorials set it up: tournament of 3, uniform crossover,
    uniform integer mutation. Every evaluation counts, as a DEAP user would train each
    one (DEAP keeps no cache of genomes it has seen)."""
    from deap import algorithms, base, creator, tools

    if not hasattr(creator, "FitnessMax"):
        creator.create("FitnessMax", base.Fitness, weights=(1.0,))
        creator.create("Individual", list, fitness=creator.FitnessMax)
    random.seed(seed)
    sizes = [len(table.values[g]) for g in table.genes]
    toolbox = base.Toolbox()
    toolbox.register("individual", lambda: creator.Individual(
        random.randrange(n) for n in sizes))
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    state = {"evals": 0, "hit": math.inf}

    def evaluate(ind):
        state["evals"] += 1
        assignment = {g: table.values[g][v] for g, v in zip(table.genes, ind)}
        acc = table.fitness[table.key(assignment)]
        if acc >= target and state["evals"] <= budget:
            state["hit"] = min(state["hit"], state["evals"])
        return (acc,)

    toolbox.register("evaluate", evaluate)
    toolbox.register("mate", tools.cxUniform, indpb=0.5)
    toolbox.register("mutate", tools.mutUniformInt, low=[0] * len(sizes),
                     up=[n - 1 for n in sizes], indpb=1.0 / len(sizes))
    toolbox.register("select", tools.selTournament, tournsize=3)
    pop = toolbox.population(n=population)
    ngen = max(1, math.ceil((budget - population) / max(1.0, population * (cxpb + mutpb) * 0.8)))
    algorithms.eaSimple(pop, toolbox, cxpb=cxpb, mutpb=mutpb, ngen=ngen, verbose=False)
    return state["hit"]


def run_xgb(table, target, seed, budget, population=30, tournament=5, candidates=64,
            warmup=10):
    """The guided strategy's scheme with another model: aging evolution (population 30,
    tournament 5) whose every genome is the best of 64 unseen candidates (half children
    of two tournament parents, a quarter one-gene mutants of a tournament winner, a
    quarter random) as scored by an XGBoost regressor (Debian's python3-xgboost) fitted
    to every result so far on one-hot genes; random genomes until `warmup` results.
    One worker: the model choice is what is compared."""
    import numpy as np
    import xgboost

    rng = random.Random(seed)
    genes, values = table.genes, table.values
    columns = {(g, v): i for i, (g, v) in enumerate((g, v) for g in genes for v in values[g])}

    def random_genome():
        a = {}
        for g in genes:
            a[g] = rng.choice(values[g])
        return table.key(a)

    def features(keys):
        x = np.zeros((len(keys), len(columns)), dtype=np.float32)
        for r, key in enumerate(keys):
            for g, v in zip(genes, key):
                if v != "":
                    x[r, columns[(g, v)]] = 1.0
        return x

    def as_assignment(key):
        return {g: (v if v != "" else rng.choice(values[g])) for g, v in zip(genes, key)}

    seen, history, alive = set(), [], []  # alive: (key, accuracy), oldest first
    for evaluations in range(1, budget + 1):
        if len(history) < warmup or len(alive) < 2:
            pick = random_genome()
            for _ in range(1000):
                if pick not in seen:
                    break
                pick = random_genome()
        else:
            data = xgboost.DMatrix(features([k for k, _ in history]),
                                   label=np.array([a for _, a in history]))
            model = xgboost.train({"max_depth": 4, "eta": 0.3, "nthread": 1, "seed": seed,
                                   "objective": "reg:squarederror"}, data, num_boost_round=50)

            def winner():
                return max(rng.sample(alive, min(tournament, len(alive))), key=lambda m: m[1])[0]
            pool = set()
            for i in range(candidates * 4):
                if len(pool) >= candidates:
                    break
                kind = i % 4
                if kind < 2:
                    a, b = as_assignment(winner()), as_assignment(winner())
                    child = {g: (a if rng.random() < 0.5 else b)[g] for g in genes}
                else:
                    child = as_assignment(winner() if kind == 2 else random_genome())
                    g = rng.choice(genes)
                    child[g] = rng.choice(values[g])
                key = table.key(child)
                if key not in seen:
                    pool.add(key)
            if not pool:
                return math.inf
            pool = sorted(pool)
            rng.shuffle(pool)  # ties (a flat model early on) go to no value in particular
            scores = model.predict(xgboost.DMatrix(features(pool)))
            pick = pool[int(np.argmax(scores))]
        seen.add(pick)
        acc = table.fitness.get(pick, 0.0)
        if acc >= target:
            return evaluations
        history.append((pick, acc))
        alive.append((pick, acc))
        if len(alive) > population:
            alive.pop(0)
    return math.inf


def xgb_job(job):
    path, target, seed, budget = job
    return run_xgb(Table(path), target, seed, budget)


def run_optuna(table, target, seed, budget, which, workers, repeats="tell"):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if which == "tpe-cl":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                             warn_independent_sampling=False)
    elif which == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.NSGAIISampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    clock = random.Random(seed ^ 0x5EED)
    seen = set()
    running = []  # (finish time, order asked, trial, accuracy, whether the genome is new)
    asked = 0
    now = 0.0
    evaluations = 0
    for _ in range(budget * 5):  # repeats are free, but not endless
        while len(running) < workers:
            trial = study.ask()
            key = table.suggest(trial)
            fresh = key not in seen
            seen.add(key)
            # A repeat is looked up, not trained: its result is there at once.
            duration = clock.uniform(0.5, 1.5) if fresh and workers > 1 else 0.0
            running.append((now + duration, asked, trial, table.fitness[key], fresh))
            asked += 1
        running.sort(key=lambda r: (r[0], r[1]))
        now, _, trial, acc, fresh = running.pop(0)
        if fresh or repeats == "tell":
            study.tell(trial, acc)
        else:  # a failed trial is no observation: the sampler learns nothing from it
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if fresh:
            evaluations += 1
            if acc >= target:
                return evaluations
            if evaluations >= budget:
                return math.inf
    return math.inf


def summarize(name, evals, brute_median, brute_p90):
    reached = [e for e in evals if e != math.inf]
    med = statistics.median(evals) if len(reached) * 2 > len(evals) else math.inf
    p90 = percentile(evals, 0.9)
    fmt = lambda x: "not reached" if x == math.inf else f"{x:g}"
    ratio = lambda b, x: "-" if x == math.inf else f"{b / x:.2f}x"
    return (f"| {name} | {len(reached)}/{len(evals)} | {fmt(med)} | {fmt(p90)} | "
            f"{ratio(brute_median, med)} | {ratio(brute_p90, p90)} |"), med, p90


def brute_force_quantile(n, hits, p):
    """Evaluations brute force in random order needs to hit one of `hits` among `n` with
    probability p: the least k with 1 - C(n - hits, k) / C(n, k) >= p."""
    miss = 1.0
    for k in range(1, n + 1):
        miss *= (n - hits - (k - 1)) / (n - (k - 1))
        if 1 - miss >= p:
            return k
    return n


def optuna_job(job):
    path, target, seed, budget, which, workers, repeats = job
    return run_optuna(Table(path), target, seed, budget, which, workers, repeats)


def deap_job(job):
    path, target, seed, budget = job
    return run_deap(Table(path), target, seed, budget)


def compare(path, label, args, pool):
    table = Table(path)
    best = max(table.fitness.values())
    target = best - args.gap - 1e-12
    hits = sum(1 for a in table.fitness.values() if a >= target)
    n = len(table.fitness)
    brute_median = brute_force_quantile(n, hits, 0.5)
    brute_p90 = brute_force_quantile(n, hits, 0.9)
    print(f"### {label}\n\n{path}: {n} genomes, best {best:.4f}, target {best - args.gap:.4f} "
          f"({hits} genomes reach it); budget {args.budget} evaluations, {args.seeds} seeds, "
          f"{args.workers} worker(s)\n", flush=True)
    rows = ["| strategy | reached | median evaluations | p90 | speed-up at the median "
            "(brute force's / this) | at p90 |", "|---|---|---|---|---|---|",
            f"| brute force, random order (exact) | - | {brute_median} | {brute_p90} | 1.00x | "
            "1.00x |"]
    figures = {}
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for tool in args.tools:
        if tool in DEEPEVOLVE:
            evals = run_deepevolve(str(args.deepevolve), path, tool, args.seeds, args.gap,
                                   args.budget, args.workers)
        elif tool == "xgb":
            if args.workers > 1:
                continue  # one worker: it compares the model, not the asynchrony
            evals = pool.map(xgb_job, [(path, target, s, args.budget) for s in seeds])
        elif tool == "deap":
            if args.workers > 1:
                continue  # eaSimple evaluates a generation at a time: no asynchrony to model
            evals = pool.map(deap_job, [(path, target, s, args.budget) for s in seeds])
        else:
            evals = pool.map(optuna_job, [(path, target, s, args.budget, tool, args.workers,
                                           args.optuna_repeats) for s in seeds])
        row, med, p90 = summarize(NAMES[tool], evals, brute_median, brute_p90)
        figures[tool] = (med, p90)
        rows.append(row)
        print(row, flush=True)
    print("\n" + "\n".join(rows) + "\n", flush=True)
    if "guided" in figures:
        for other in ("tpe-cl", "tpe"):
            if other in figures:
                (gm, gp), (tm, tp) = figures["guided"], figures[other]
                print(f"guided vs {NAMES[other]}: median {gm:g} / {tm:g} = "
                      f"{gm / tm if tm not in (0, math.inf) else math.nan:.2f}, p90 {gp:g} / "
                      f"{tp:g}\n", flush=True)
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", action="append", help="a fitness table (repeatable); default: "
                    "every table in bench/data unless --nk is given")
    ap.add_argument("--nk", action="append", default=None, metavar="N,A,K",
                    help="an NK landscape of N genes with A values each and K interactions "
                    "(repeatable); default: 8,4,1 8,4,3 8,4,6 unless --table is given")
    ap.add_argument("--nk-seed", type=int, default=1)
    ap.add_argument("--deepevolve", default=ROOT / "build/cli/deepevolve")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=0.005, help="within this of the best")
    ap.add_argument("--budget", type=int, default=300, help="evaluations each run may spend")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--optuna-repeats", choices=["tell", "fail"], default="tell",
                    help="a genome an Optuna sampler proposes again is told its result again "
                    "(tell), or told as a failed trial, which its model ignores (fail)")
    ap.add_argument("--tools", default=",".join(DEEPEVOLVE + OTHERS),
                    help="comma-separated, of: " + ", ".join(DEEPEVOLVE + OTHERS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="processes for the "
                    "Python tools")
    args = ap.parse_args()
    args.tools = args.tools.split(",")
    for t in args.tools:
        if t not in DEEPEVOLVE + OTHERS:
            sys.exit(f"search_compare: unknown tool '{t}'")
    tables = [(Path(t), Path(t).name) for t in (args.table or [])]
    if not args.table and args.nk is None:
        tables = [(p, p.name) for p in sorted((ROOT / "bench/data").glob("*.csv"))]
    nks = args.nk if args.nk is not None else ([] if args.table else ["8,4,1", "8,4,3", "8,4,6"])
    with tempfile.TemporaryDirectory() as tmp, multiprocessing.Pool(args.jobs) as pool:
        for spec in nks:
            n, a, k = (int(x) for x in spec.split(","))
            path = Path(tmp) / f"nk_{n}_{a}_{k}.csv"
            nk_table(n, a, k, args.nk_seed, path)
            tables.append((path, f"NK landscape N={n} A={a} K={k} (seed {args.nk_seed})"))
        for path, label in tables:
            compare(path, label, args, pool)


if __name__ == "__main__":
    main()
