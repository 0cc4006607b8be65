#!/usr/bin/env bash
# The test command: installs every Debian package the project needs, configures,
# builds and runs the whole test suite. Idempotent; run it from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test

# The tree is formatted as .clang-format says.
git ls-files '*.cc' '*.h' | xargs clang-format-14 --dry-run --Werror

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPEVOLVE_BUILD_TESTS=ON
cmake --build build --parallel "$(nproc)"
ctest --test-dir build --output-on-failure --no-tests=error --parallel "$(nproc)" --timeout 900

# Every lock annotation checked: the whole tree (LibTorch's trainer and the tests
# included) built with clang's -Wthread-safety as errors, under AddressSanitizer with
# libFuzzer's coverage. Its tests are not run; its fuzz targets (tests/fuzz/) run a
# bounded, seeded number of inputs each from their committed corpora.
cmake -S . -B build-thread-safety -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 \
  -DDEEPEVOLVE_THREAD_SAFETY=ON -DDEEPEVOLVE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG=-O0
cmake --build build-thread-safety --parallel "$(nproc)"
bash bench/fuzz.sh --build build-thread-safety --runs 20000 --seed 1

# The container images build from this tree and run a search through docker-compose
# (skipped, saying why, where Docker cannot run).
bash tests/deploy/containers_test.sh
