#!/usr/bin/python3
"""The same work as master_bench, through Optuna (Debian's python3-optuna): N worker
processes share one study in Optuna's SQLite storage and loop ask -> tell at once, over
the same four-gene space (256 x 64 x 7 x 7 genomes). Prints one JSON line with cycles
per second and the p50/p99 latency of one cycle (ask + tell).

  bench/optuna_bench.py --workers 4 --trials 2000 [--sampler nsga2|tpe|random]

NSGA-II is Optuna's genetic algorithm, the closest to deepevolve's steady-state GA."""
import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
import time

NEURONS = list(range(1, 257))
LAYERS = list(range(1, 65))
ACTIVATIONS = ["relu", "elu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "linear"]
OPTIMIZERS = ["rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam"]


def storage(url):
    import optuna
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})


def sampler(name, seed):
    import optuna
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=32, seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def work(url, name, kind, seed, count, out):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="bench", storage=storage(url), sampler=sampler(kind, seed))
    latencies = []
    began = time.time()
    for _ in range(count):
        t0 = time.perf_counter()
        trial = study.ask()
        g = (trial.suggest_categorical("nb_neurons", NEURONS),
             trial.suggest_categorical("nb_layers", LAYERS),
             trial.suggest_categorical("activation", ACTIVATIONS),
             trial.suggest_categorical("optimizer", OPTIMIZERS))
        value = int(hashlib.md5(repr(g).encode()).hexdigest()[:6], 16) / 0xffffff
        study.tell(trial, value)
        latencies.append((time.perf_counter() - t0) * 1000)
    out.put((latencies, began, time.time()))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--sampler", default="nsga2", choices=["nsga2", "tpe", "random"])
    args = parser.parse_args()
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="optuna-bench-")
    url = f"sqlite:///{os.path.join(tmp, 'optuna.db')}"
    optuna.create_study(study_name="bench", storage=storage(url), direction="maximize")
    out = multiprocessing.Queue()
    share = [args.trials // args.workers + (i < args.trials % args.workers)
             for i in range(args.workers)]
    procs = [multiprocessing.Process(target=work, args=(url, "bench", args.sampler, i + 1, n, out))
             for i, n in enumerate(share)]
    for p in procs:
        p.start()
    # Throughput from the first ask to the last tell: process start-up and imports
    # are not Optuna's dispatch cost.
    latencies, began, ended = [], [], []
    for _ in procs:
        lat, b, e = out.get()
        latencies.extend(lat)
        began.append(b)
        ended.append(e)
    for p in procs:
        p.join()
    seconds = max(ended) - min(began)
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"tool": f"optuna {optuna.__version__} ({args.sampler}, SQLite)",
                      "workers": args.workers, "trials": len(latencies),
                      "seconds": round(seconds, 3), "per_s": round(len(latencies) / seconds, 1),
                      "p50_ms": round(percentile(latencies, 0.5), 3),
                      "p99_ms": round(percentile(latencies, 0.99), 3)}))


if __name__ == "__main__":
    main()
