#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/) from their committed seed corpora, for a
# number of inputs each or for as long as asked, and says how many inputs each ran and
# whether it crashed. Needs a build configured with -DDEEPEVOLVE_FUZZ=ON (clang);
# scripts/test.sh's clang build is one.
#
#   bench/fuzz.sh [--build DIR] [--runs N | --seconds S] [--seed K] [TARGET...]
#
# Defaults: build-thread-safety, 10 000 inputs a target, seed 1, every target. New
# inputs that add coverage go to a scratch corpus (the committed one is not changed);
# a crash leaves its input in build DIR/fuzz-artefacts/ and makes the exit status 1.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-thread-safety
limit=(-runs=10000)
seed=1
targets=()
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --runs) limit=("-runs=$2"); shift 2 ;;
    --seconds) limit=("-max_total_time=$2"); shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=(spec_file_fuzz program_output_fuzz worker_messages_fuzz http_fuzz
                               dataset_fuzz)

artefacts="$build/fuzz-artefacts"
mkdir -p "$artefacts"
# LibTorch's own allocations are not ours to judge; everything else is checked.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:alloc_dealloc_mismatch=0:detect_odr_violation=0}
failed=0
for target in "${targets[@]}"; do
  binary="$build/tests/fuzz/$target"
  if [[ ! -x "$binary" ]]; then
    echo "fuzz: $target: not built in $build (configure it with -DDEEPEVOLVE_FUZZ=ON)" >&2
    failed=1
    continue
  fi
  scratch=$(mktemp -d)
  log="$artefacts/$target.log"
  if "$binary" "${limit[@]}" -seed="$seed" -max_len=65536 -timeout=30 -rss_limit_mb=4096 \
       -artifact_prefix="$artefacts/$target-" "$scratch" "tests/fuzz/corpus/$target" \
       >"$log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -n1)
    echo "fuzz: $target: ${runs:-done}, no crash (corpus $(ls "$scratch" | wc -l) new inputs)"
  else
    echo "fuzz: $target: CRASHED; the input is in $artefacts/, the report in $log:" >&2
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 20 >&2 || tail -n 20 "$log" >&2
    failed=1
  fi
  rm -rf "$scratch"
done
exit "$failed"
