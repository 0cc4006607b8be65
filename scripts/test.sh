#!/usr/bin/env bash
# The test command: installs every Debian package the project needs, configures,
# builds and runs the whole test suite. Idempotent; run it from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEEPEVOLVE_BUILD_TESTS=ON
cmake --build build --parallel "$(nproc)"
ctest --test-dir build --output-on-failure --no-tests=error --parallel "$(nproc)" --timeout 900
