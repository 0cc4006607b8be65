#!/usr/bin/env python3
"""The guided strategy's cost per genome handed out beside Optuna's TPE sampler's, at
the same numbers of results, on the same 12-gene space (8 values each):

  bench/guided_cost.py --build build [--history 100,1000,5000] [--samples 50]

deepevolve: bench/guided_cost (Next and Report, as the master runs them under its lock,
its history made by its own search). Optuna 3.1 (Debian's python3-optuna): TPESampler
(multivariate, constant liar, as search_compare.py runs it), ask and tell on an
in-memory study holding that many finished trials of random genomes (added with
add_trials, so that only the cost at that size is timed). Prints one JSON line per tool
and size: milliseconds per genome, median and p90."""
import argparse
import json
import random
import statistics
import subprocess
import time
import warnings

import optuna

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

VALUES = [[16 << v for v in range(8)] if g % 3 == 0 else
          [10 ** (-4 + 0.5 * v) for v in range(8)] if g % 3 == 1 else
          [f"name{v}" for v in range(8)] for g in range(12)]


def fitness(choice):
    """bench/guided_cost.cc's Fitness, on value indices."""
    score = 0.0
    for g, v in enumerate(choice):
        score -= 0.02 * abs(v - (g * 5 + 3) % 8)
        if g > 0 and (v + choice[g - 1]) % 3 == 0:
            score += 0.01
    return min(1.0, max(0.0, 0.9 + score / 4))


def optuna_cost(history, samples, seed):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    distributions = {f"gene_{g}": optuna.distributions.CategoricalDistribution(VALUES[g])
                     for g in range(12)}
    rng = random.Random(seed)
    trials = []
    for _ in range(history):
        choice = [rng.randrange(8) for _ in range(12)]
        trials.append(optuna.trial.create_trial(
            params={f"gene_{g}": VALUES[g][v] for g, v in enumerate(choice)},
            distributions=distributions, value=fitness(choice)))
    study.add_trials(trials)
    ms = []
    for _ in range(samples):
        start = time.perf_counter()
        trial = study.ask(distributions)
        choice = [VALUES[g].index(trial.params[f"gene_{g}"]) for g in range(12)]
        study.tell(trial, fitness(choice))
        ms.append(1000 * (time.perf_counter() - start))
    ms.sort()
    return {"bench": "guided_cost", "tool": "optuna-tpe-cl", "history": history,
            "ms_median": round(statistics.median(ms), 3),
            "ms_p90": round(ms[len(ms) * 9 // 10], 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--history", default="100,1000,5000")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ours = subprocess.run([f"{args.build}/bench/guided_cost", "--history", args.history,
                           "--samples", str(args.samples), "--seed", str(args.seed)],
                          check=True, capture_output=True, text=True).stdout
    for line in ours.splitlines():
        row = json.loads(line)
        row["tool"] = "deepevolve-guided"
        print(json.dumps(row), flush=True)
    for history in (int(h) for h in args.history.split(",")):
        print(json.dumps(optuna_cost(history, args.samples, args.seed)), flush=True)


if __name__ == "__main__":
    main()
