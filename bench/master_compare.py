#!/usr/bin/python3
"""Runs master_bench (deepevolve-master, durable SQLite store) and optuna_bench.py
(Optuna ask/tell on its SQLite storage) alternately, several times each, with 1 and 4
workers, and prints the medians and the ratio as a Markdown table.

  bench/master_compare.py [--bin build/bench/master_bench] [--repeats 3]
                          [--trials 2000] [--optuna-trials 500]

Optuna gets fewer trials because each of its asks reads the whole study back, so its
cost per trial grows with the study; a shorter run flatters it, not us."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bench", "master_bench"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--optuna-trials", type=int, default=500)
    args = parser.parse_args()
    print("| workers | tool | trials | cycles/s | p50 ms | p99 ms | deepevolve (full) / this |")
    print("|---|---|---|---|---|---|---|")
    for workers in (1, 4):
        runs = {}
        for _ in range(args.repeats):
            for durability in ("full", "process"):
                r = run([args.bin, "--workers", str(workers), "--trials", str(args.trials),
                         "--durability", durability])
                runs.setdefault(f"deepevolve-master, SQLite, durability {durability}", []).append(r)
            for sampler in ("nsga2", "tpe"):
                r = run([sys.executable, os.path.join(HERE, "optuna_bench.py"), "--workers",
                         str(workers), "--trials", str(args.optuna_trials), "--sampler", sampler])
                runs.setdefault(r["tool"], []).append(r)
        ours = statistics.median(r["per_s"] for r in runs["deepevolve-master, SQLite, durability full"])
        for tool, rs in runs.items():
            per_s = statistics.median(r["per_s"] for r in rs)
            print(f"| {workers} | {tool} | {rs[0]['trials']} | {per_s:.1f} "
                  f"| {statistics.median(r['p50_ms'] for r in rs):.2f} "
                  f"| {statistics.median(r['p99_ms'] for r in rs):.2f} | {ours / per_s:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
