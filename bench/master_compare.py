#!/usr/bin/python3
"""Runs master_bench (deepevolve-master, durable SQLite store) and optuna_bench.py
(Optuna ask/tell on its SQLite storage) alternately, several times each, with 1 and 4
workers, and prints the medians and the ratio as a Markdown table; with
--history-trials, also whether a cycle costs more once the ledger is large.

  bench/master_compare.py [--bin build/bench/master_bench] [--repeats 3]
                          [--trials 2000] [--optuna-trials 500] [--history-trials 51000]

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
    parser.add_argument("--optuna-trials", type=int, default=500,
                        help="trials per Optuna run; 0: deepevolve's rows only")
    parser.add_argument("--workers", default="1,4", help="worker counts, comma-separated")
    parser.add_argument("--history-trials", type=int, default=0,
                        help="also run this many trials with 4 workers and compare the p99 "
                        "of a cycle after 1 000 ledger entries and at the last ones")
    parser.add_argument("--window", type=int, default=5000,
                        help="cycles in each window of the history run")
    args = parser.parse_args()
    print("| workers | tool | trials | cycles/s | p50 ms | p99 ms | deepevolve (full) / this |")
    print("|---|---|---|---|---|---|---|")
    ours_name = "deepevolve-master, SQLite, durability full"
    for workers in (int(w) for w in args.workers.split(",")):
        runs = {}
        for _ in range(args.repeats):
            for durability, extra, name in (
                    ("full", [], ours_name),
                    ("full", ["--separate-acquire"],
                     "deepevolve-master, durability full, Acquire and Report as two calls"),
                    ("process", [], "deepevolve-master, SQLite, durability process")):
                r = run([args.bin, "--workers", str(workers), "--trials", str(args.trials),
                         "--durability", durability] + extra)
                runs.setdefault(name, []).append(r)
            for sampler in ("nsga2", "tpe") if args.optuna_trials > 0 else ():
                r = run([sys.executable, os.path.join(HERE, "optuna_bench.py"), "--workers",
                         str(workers), "--trials", str(args.optuna_trials), "--sampler", sampler])
                runs.setdefault(r["tool"], []).append(r)
        ours = statistics.median(r["per_s"] for r in runs[ours_name])
        for tool, rs in runs.items():
            per_s = statistics.median(r["per_s"] for r in rs)
            print(f"| {workers} | {tool} | {rs[0]['trials']} | {per_s:.1f} "
                  f"| {statistics.median(r['p50_ms'] for r in rs):.2f} "
                  f"| {statistics.median(r['p99_ms'] for r in rs):.2f} | {ours / per_s:.1f}x |",
                  flush=True)
    if args.history_trials > 0:
        rs = [run([args.bin, "--workers", "4", "--trials", str(args.history_trials),
                   "--durability", "full", "--window", str(args.window)])
              for _ in range(args.repeats)]
        med = lambda key: statistics.median(r[key] for r in rs)
        print(f"\n{rs[0]['window']}-cycle windows\n")
        print(f"| workers | trials | cycles/s | p99 ms at 1 000 entries | at 5 000 | at 25 000 "
              f"| at {rs[0]['last_history']} | ratio last / 1 000 | database MB | WAL MB "
              f"| mean WAL sync ms at 1 000 / last | syncs over 2.5 ms at 1 000 / last |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        print(f"| 4 | {rs[0]['trials']} | {med('per_s'):.1f} | {med('p99_at_1000_ms'):.2f} "
              f"| {med('p99_at_5000_ms'):.2f} | {med('p99_at_25000_ms'):.2f} "
              f"| {med('p99_at_last_ms'):.2f} | "
              f"{med('p99_at_last_ms') / med('p99_at_1000_ms'):.2f}x | {med('db_mb'):.1f} "
              f"| {med('wal_mb'):.1f} | {med('sync_ms_at_1000'):.2f} / "
              f"{med('sync_ms_at_last'):.2f} | {100 * med('slow_syncs_at_1000'):.2f} % / "
              f"{100 * med('slow_syncs_at_last'):.2f} % |", flush=True)


if __name__ == "__main__":
    main()
