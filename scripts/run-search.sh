#!/usr/bin/env bash
# The main command: installs what is needed, builds, and runs a real genetic search on
# Fashion-MNIST (the 70 000 images Debian ships) on this machine, then prints the top 5.
# About 10 minutes on 2 cores. Extra arguments go to `deepevolve local`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPEVOLVE_BUILD_TESTS=OFF >/dev/null
cmake --build build --parallel "$(nproc)" --target deepevolve

# The quick preset: the fashion_mnist_mlp space (490 genomes), population 20 over 8
# generations, 3 epochs per genome on all 60 000 training images.
exec build/cli/deepevolve local --preset fashion_mnist_mlp --population 20 --generations 8 \
  --epochs 3 --out deepevolve-out "$@"
