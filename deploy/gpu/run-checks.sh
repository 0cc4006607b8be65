#!/usr/bin/env bash
# The GPU checks, one command on a machine with an NVIDIA GPU, PyTorch (whose wheel
# carries LibTorch), the CUDA toolkit, CMake and ninja, after fetch-debs.sh has filled
# deploy/gpu/debs and deploy/gpu/data on a Debian machine:
#
#   deploy/gpu/run-checks.sh OUT [SECONDS]
#
# Writes everything it prints to OUT/checks.log, and OUT/*.jsonl with the figures:
#   1. the machine: nvidia-smi, compilers, torch;
#   2. build-with-torch.sh (build-gpu/);
#   3. the trainer's CUDA tests (every optimizer's CUDA paths against the CPU kernels,
#      the network on both devices, real trainings, a seeded training reproduced);
#   4. trainer_bench on cuda:0 for the MLP and the CNN, deepevolve's multi-tensor and
#      per-parameter optimizer paths beside bench/trainer_bench.py in the machine's
#      PyTorch, alternated 3 times, with nvidia-smi dmon sampling the GPU meanwhile;
#   5. a short real search on Fashion-MNIST (a master and one worker on 127.0.0.1);
#   6. the same search with 4 and 8 workers on the GPU, genomes per hour of each; then
#      N trainings at once on one GPU (N = 1, 2, 4, 8 trainer_bench processes): the
#      samples per second they make together, and the GPU's utilisation;
#   7. the trainer's CPU tests against this LibTorch;
#   8. (STEPS=program) a real search of the PyTorch trainer program on the GPU.
# Each step runs only while the time budget (SECONDS, default 480) allows it; STEPS
# picks some (default: "tests bench search1 concurrency searchN cputests"; also "program":
# a search of examples/trainers/fmnist_cnn.py, a trainer program, with 4 workers).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: run-checks.sh OUT [SECONDS]}
budget=${2:-480}
steps=" ${STEPS:-tests bench search1 concurrency searchN cputests} "
want() { [[ $steps == *" $1 "* ]]; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec > >(tee -a "$out/checks.log") 2>&1
start=$(date +%s)
left() { echo $((budget - ($(date +%s) - start))); }
step() { echo; echo "=== $(date +%T) [+$(($(date +%s) - start)) s] $*"; }
# enough N: true when at least N seconds of the budget are left.
enough() {
  if (($(left) < $1)); then
    echo "(skipped: $(left) s left, this step needs $1)"
    return 1
  fi
}

step "machine"
nvidia-smi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
echo "cores: $(nproc)"; free -g | head -2
g++ --version | head -1; cmake --version | head -1; ninja --version; nvcc --version | tail -2
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  "device", torch.cuda.get_device_name(0), "cxx11 abi", torch.compiled_with_cxx11_abi())'

step "build (deploy/gpu/build-with-torch.sh)"
timeout $(($(left) - 60)) bash "$root/deploy/gpu/build-with-torch.sh" >"$out/build.log" 2>&1
status=$?
grep -E "torch |warning: |error|Error|FAILED|build-with-torch" "$out/build.log" | head -60
tail -5 "$out/build.log"
if ((status != 0)); then
  echo "BUILD FAILED ($status)"
  exit 1
fi
build=$root/build-gpu
# shellcheck disable=SC1091
source "$build/env.sh"
export DEEPEVOLVE_DATA=$root/deploy/gpu/data/fashion-mnist
ls -la "$DEEPEVOLVE_DATA"

# search N: a short real search on Fashion-MNIST with N workers on cuda:0.
search() {
  local trainers=$1
  step "a real search on Fashion-MNIST, $trainers worker(s) on cuda:0"
  enough 100 || return
  local s e genomes
  s=$(date +%s)
  timeout $(($(left) - 20)) "$build/cli/deepevolve" local --preset fashion_mnist_cnn_full \
    --strategy steady_state --population 8 --trials 16 --epochs 2 --seed 1 \
    --device cuda:0 --trainers "$trainers" --threads 2 --no-live \
    --out "$out/search-$trainers" 2>&1 | tail -25
  e=$(($(date +%s) - s))
  genomes=$(($(wc -l <"$out/search-$trainers/genomes.csv") - 1))
  echo "search with $trainers worker(s): $genomes genomes in $e s," \
    "$((genomes * 3600 / (e > 0 ? e : 1))) genomes/hour"
  echo "{\"trainers\": $trainers, \"genomes\": $genomes, \"seconds\": $e}" >>"$out/search.jsonl"
}

if want tests; then
step "trainer CUDA tests"
timeout 150 "$build/tests/worker/trainer/trainer_cuda_test" --gtest_color=no ||
  echo "CUDA TESTS FAILED"
timeout 60 "$build/tests/worker/trainer/trainer_optim_test" --gtest_brief=1 --gtest_color=no ||
  echo "OPTIMIZER TESTS FAILED"
fi

if want bench; then
step "trainer_bench on cuda:0 beside PyTorch"
nvidia-smi dmon -s uct -d 1 >"$out/dmon-bench.log" 2>&1 &
dmon=$!
bench_json=$out/bench.jsonl
for round in 1 2 3; do
  for net in mlp cnn; do
    enough 30 || break 2
    for path in fused tensor; do
      timeout 60 "$build/bench/trainer_bench" --net "$net" --device cuda:0 --threads 4 \
        --steps 2000 --warmup 200 --optimizer-path "$path" | tee -a "$bench_json"
    done
    timeout 60 env -u LD_LIBRARY_PATH python3 "$root/bench/trainer_bench.py" --net "$net" --device cuda:0 --threads 4 \
      --steps 2000 --warmup 200 | tee -a "$bench_json"
  done
done
kill "$dmon" 2>/dev/null
python3 - "$bench_json" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for net in ("mlp", "cnn"):
    ours = {}
    for path in ("fused", "tensor"):
        xs = [r["samples_per_s"] for r in rows
              if r["impl"] == "deepevolve" and r["net"] == net and r["optimizer_path"] == path]
        if xs:
            ours[path] = statistics.median(xs)
    theirs = [r["samples_per_s"] for r in rows if r["impl"] == "python3-torch" and r["net"] == net]
    if not theirs:
        continue
    t = statistics.median(theirs)
    for path, v in ours.items():
        print(f"{net}: deepevolve {path} {v:.0f} samples/s, PyTorch {t:.0f}: {v / t:.2f}x "
              f"(medians of {len(theirs)})")
PY
echo "GPU utilisation during the bench (sm %, per second):"
awk '$1 ~ /^[0-9]+$/ {print $2}' "$out/dmon-bench.log" | tr '\n' ' '; echo
fi

want search1 && search 1

if want searchN; then
  search 4
  search 8
fi

if want concurrency; then
step "concurrent trainings on one GPU"
conc_json=$out/concurrency.jsonl
for net in cnn mlp; do
  for n in 1 2 4 8; do
    enough 40 || break 2
    nvidia-smi dmon -s u -d 1 >"$out/dmon-$net-$n.log" 2>&1 &
    dmon=$!
    pids=()
    for i in $(seq "$n"); do
      timeout 90 "$build/bench/trainer_bench" --net "$net" --device cuda:0 --threads 2 \
        --steps 3000 --warmup 200 >"$out/conc-$net-$n-$i.json" &
      pids+=($!)
    done
    wait "${pids[@]}"
    kill "$dmon" 2>/dev/null
    util=$(awk '$1 ~ /^[0-9]+$/ {s += $2; k++} END {if (k) printf "%.0f", s / k}' \
      "$out/dmon-$net-$n.log")
    python3 - "$net" "$n" "$util" "$out"/conc-"$net"-"$n"-*.json <<'PY' | tee -a "$conc_json"
import json, sys
net, n, util = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = [json.load(open(p)) for p in sys.argv[4:]]
print(json.dumps({"net": net, "trainings": n, "samples_per_s_total":
                  round(sum(r["samples_per_s"] for r in runs)),
                  "samples_per_s_each": [r["samples_per_s"] for r in runs],
                  "gpu_util_mean_pct": util}))
PY
    rm -f "$out"/conc-"$net"-"$n"-*.json
  done
done
fi

if want program; then
step "a real search of a trainer program (examples/trainers/fmnist_cnn.py) on cuda:0"
timeout 60 "$build/tests/worker/daemon/program_trainer_test" --gtest_brief=1 --gtest_color=no ||
  echo "PROGRAM TRAINER TESTS FAILED"
if enough 120; then
  cat >"$out/program.yaml" <<'YAML'
name: fashion-mnist CNN in PyTorch, on the GPU
task: {trainer: fmnist-cnn@1, dataset: fashion_mnist, epochs: 3}
genes:
  conv_layers: [1, 2, 3]
  filters: [16, 32, 64]
  kernel_size: [3, 5]
  dense_units: [64, 128, 256]
  dropout: [0, 0.25, 0.5]
  learning_rate: {log_range: [1e-4, 1e-2], points: 5}
  optimizer: [adam, rmsprop, sgd]
  batch_size: [64, 128, 256]
steady_state: {population: 8, trials: 24}
pruner: {asha: {min_epochs: 1, reduction_factor: 3}}
seed: 1
YAML
  s=$(date +%s)
  # The program runs in the machine's Python, not against the worker's libraries.
  timeout $(($(left) - 20)) "$build/cli/deepevolve" local --spec "$out/program.yaml" \
    --trainer "fmnist-cnn@1=env -u LD_LIBRARY_PATH python3 $root/examples/trainers/fmnist_cnn.py" \
    --device cuda:0 --trainers 4 --threads 2 --data-dir "$root/deploy/gpu/data" --no-live \
    --out "$out/program" 2>&1 | tail -22
  e=$(($(date +%s) - s))
  genomes=$(($(wc -l <"$out/program/genomes.csv") - 1))
  echo "trainer program search, 4 workers: $genomes genomes in $e s"
  echo "{\"program_search_genomes\": $genomes, \"seconds\": $e}" >>"$out/search.jsonl"
  for log in "$out"/program/worker-*.log; do
    echo "--- $log"
    grep -v "^\[.*\] \[info\] lease" "$log" | tail -40
  done
fi
fi

if want cputests; then
step "trainer CPU tests against this LibTorch"
if enough 40; then
  for t in trainer_model_test trainer_data_test; do
    if ! timeout 60 "$build/tests/worker/trainer/$t" --gtest_color=no; then
      echo "$t FAILED"
      # Where it crashed, when the machine has a debugger.
      command -v gdb >/dev/null &&
        timeout 60 gdb -batch -ex run -ex bt --args "$build/tests/worker/trainer/$t" \
          --gtest_color=no 2>&1 | tail -40
    fi
  done
fi
if enough 60; then
  timeout $(($(left) - 10)) "$build/tests/worker/trainer/trainer_train_test" --gtest_brief=1 \
    --gtest_color=no || echo "trainer_train_test FAILED (or stopped by the budget)"
fi
fi

step "done"
