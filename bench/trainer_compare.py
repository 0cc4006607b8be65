#!/usr/bin/python3
"""Runs trainer_bench (deepevolve) and trainer_bench.py (python3-torch) alternately,
several times each, for the MLP and the CNN at 1 thread and at every core, and prints
the medians, the ratio and the share of the GEMM-bound floor as a Markdown table.

  bench/trainer_compare.py [--bin build/bench/trainer_bench] [--repeats 5] [--steps 300]

Both run with OMP_WAIT_POLICY=PASSIVE (what the worker sets for itself), the same BLAS
(whatever libblas.so.3 points to) and OPENBLAS_NUM_THREADS equal to the thread count
(OpenBLAS keeps its own pool, which torch.set_num_threads does not size).
python3-torch runs three times: as a user would run it (OpenBLAS's own kernel choice);
with OPENBLAS_CORETYPE set to the kernel deepevolve chose; and with that kernel plus the
process settings the worker gives itself (glibc heap kept for tensors through the
MALLOC_* variables that match its mallopt calls, OPENBLAS_THREAD_TIMEOUT=4). The last
ratio is the gain of the C++ step itself. The floor is the GEMM-bound time of a step
(6 x parameters FLOPs per sample at the 1024^2 sgemm rate measured in the same run)."""
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
    parser.add_argument("--nets", default="mlp,cnn")
    args = parser.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cores = os.cpu_count() or 1
    print("| net | threads | deepevolve samples/s (kernel) | python3-torch samples/s | ratio "
          "| python3-torch, same kernel | ratio | python3-torch, same kernel and process "
          "settings | ratio | deepevolve GFLOP/s | sgemm GFLOP/s | share of the GEMM floor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    py = [sys.executable, os.path.join(HERE, "trainer_bench.py")]
    for net in args.nets.split(","):
        for threads in sorted({1, cores}):
            ours, theirs, same, tuned, gflops, sgemm, share = [], [], [], [], [], [], []
            env = dict(env, OPENBLAS_NUM_THREADS=str(threads))
            common = ["--net", net, "--threads", str(threads), "--steps", str(args.steps)]
            for _ in range(args.repeats):
                a = run([args.bin] + common, env)
                kernel = dict(env, OPENBLAS_CORETYPE=a["blas_core"]) if a["blas_core"] else env
                b = run(py + common, env)
                c = run(py + common, kernel)
                d = run(py + common, dict(kernel, MALLOC_MMAP_THRESHOLD_=str(256 << 20),
                                          MALLOC_TRIM_THRESHOLD_=str(512 << 20),
                                          MALLOC_TOP_PAD_=str(64 << 20),
                                          OPENBLAS_THREAD_TIMEOUT="4"))
                ours.append(a["samples_per_s"])
                theirs.append(b["samples_per_s"])
                same.append(c["samples_per_s"])
                tuned.append(d["samples_per_s"])
                gflops.append(a["gflops"])
                sgemm.append(a["sgemm_gflops"])
                share.append(a["gflops"] / a["sgemm_gflops"])
            mo, mt, mss, mtu = (statistics.median(x) for x in (ours, theirs, same, tuned))
            mg, ms, msh = (statistics.median(x) for x in (gflops, sgemm, share))
            print(f"| {net} | {threads} | {mo:.0f} ({a['blas_core']}) | {mt:.0f} | {mo / mt:.2f}x "
                  f"| {mss:.0f} | {mo / mss:.2f}x | {mtu:.0f} | {mo / mtu:.2f}x | {mg:.1f} "
                  f"| {ms:.0f} | {100 * msh:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
