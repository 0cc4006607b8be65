#!/usr/bin/python3
"""Runs trainer_bench (deepevolve) and trainer_bench.py (python3-torch) alternately,
several times each, for the MLP and the CNN at 1 thread and at every core, and prints
the medians, the ratio and the share of the GEMM-bound floor as a Markdown table.

  bench/trainer_compare.py [--bin build/bench/trainer_bench] [--repeats 5] [--steps 300]

Both run with OMP_WAIT_POLICY=PASSIVE (what the worker sets for itself), the same BLAS
(whatever libblas.so.3 points to) and OPENBLAS_NUM_THREADS equal to the thread count
(OpenBLAS keeps its own pool, which torch.set_num_threads does not size).
python3-torch runs twice: as a user would run it (OpenBLAS's own kernel choice) and
with OPENBLAS_CORETYPE set to the kernel deepevolve chose, which separates the gain of
the kernel choice from the rest."""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bench", "trainer_bench"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cores = os.cpu_count() or 1
    print("| net | threads | deepevolve samples/s (kernel) | python3-torch samples/s | ratio "
          "| python3-torch, same kernel | ratio | deepevolve GFLOP/s | sgemm GFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for net in ("mlp", "cnn"):
        for threads in sorted({1, cores}):
            ours, theirs, same, gflops, sgemm = [], [], [], [], []
            env = dict(env, OPENBLAS_NUM_THREADS=str(threads))
            common = ["--net", net, "--threads", str(threads), "--steps", str(args.steps)]
            for _ in range(args.repeats):
                a = run([args.bin] + common, env)
                b = run([sys.executable, os.path.join(HERE, "trainer_bench.py")] + common, env)
                c = run([sys.executable, os.path.join(HERE, "trainer_bench.py")] + common,
                        dict(env, OPENBLAS_CORETYPE=a["blas_core"]) if a["blas_core"] else env)
                same.append(c["samples_per_s"])
                ours.append(a["samples_per_s"])
                gflops.append(a["gflops"])
                sgemm.append(a["sgemm_gflops"])
                theirs.append(b["samples_per_s"])
            mo, mt, mss = (statistics.median(x) for x in (ours, theirs, same))
            mg, ms = statistics.median(gflops), statistics.median(sgemm)
            print(f"| {net} | {threads} | {mo:.0f} ({a['blas_core']}) | {mt:.0f} | {mo / mt:.2f}x "
                  f"| {mss:.0f} | {mo / mss:.2f}x | {mg:.1f} | {ms:.0f} |", flush=True)


if __name__ == "__main__":
    main()
