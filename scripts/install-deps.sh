#!/usr/bin/env bash
# Installs every Debian 12 package deepevolve needs to build, test and train.
# Idempotent: packages already present are left as they are.
#   --test    also what only the test command needs: Docker and docker-compose for the
#             container images' test, debootstrap for their base image
#   --bench   also the Python tools the benchmarks compare with (bench/README.md)
#   --image   only what building the programs needs (deploy/Dockerfile's build stage):
#             no browser, npm, dataset, container tools or test-only packages
set -euo pipefail
mode=${1:-}

packages=(
  build-essential cmake pkg-config ninja-build
  # protocol and RPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # core libraries
  libabsl-dev libssl-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  libcsv-dev
  zlib1g-dev
  # training: LibTorch (CPU) on OpenBLAS, never the reference BLAS
  libtorch-dev libopenblas0-pthread libopenblas-dev
  curl
)
if [[ "$mode" != "--image" ]]; then
  packages+=(
    # the thread-safety build (clang's -Wthread-safety), its fuzz targets (libFuzzer)
    # and the format check
    clang-14 libfuzzer-14-dev clang-format-14 git
    # the real Fashion-MNIST images (70 000) for training tests and the main search
    dataset-fashion-mnist
    # the dashboard's browser test
    chromium
  )
  # The dashboard's charting library comes from the npm registry.
  command -v npm >/dev/null || packages+=(npm)
fi

if [[ "$mode" == "--test" ]]; then
  # the container images and their compose demo (tests/deploy/containers_test.sh)
  packages+=(docker.io docker-compose debootstrap)
  # a real gRPC client for the port's tests (tests/e2e/grpc_hostile_test.py), and the
  # health and reflection protos its stubs are generated from (grpc_health_test.py)
  packages+=(python3-grpcio grpc-proto)
  # the Python package's tests (tests/python): pytest, the client's protocol, tune()'s
  # functions pickled by value, pandas and matplotlib for dataframes and plots, the
  # notebook executed by nbclient on an ipykernel, a virtual environment for pip, Optuna
  # studies to import
  packages+=(python3-pytest python3-protobuf python3-cloudpickle python3-pandas
    python3-matplotlib python3-tqdm python3-nbclient python3-nbformat python3-ipykernel
    python3-venv python3-setuptools python3-optuna)
  # network namespaces, partitions and loss between real processes
  # (tests/e2e/network_faults_test.py)
  packages+=(iproute2 iptables)
fi
if [[ "$mode" == "--bench" ]]; then
  packages+=(python3-torch python3-optuna python3-deap python3-xgboost)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# LibTorch links libblas.so.3: make sure the alternative is OpenBLAS.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for alt in "libblas.so.3-$arch" "liblapack.so.3-$arch"; do
  best=$(update-alternatives --list "$alt" 2>/dev/null | grep -m1 openblas-pthread || true)
  if [[ -n "$best" ]]; then
    current=$(readlink -f "/etc/alternatives/$alt" || true)
    [[ "$current" == "$(readlink -f "$best")" ]] || update-alternatives --set "$alt" "$best"
  fi
done

# The dashboard's charting library (ECharts), pinned by dashboard/package-lock.json.
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ "$mode" != "--image" && -f "$here/dashboard/package-lock.json" ]]; then
  (cd "$here/dashboard" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
# The Kubernetes API's schema and field lists the manifests are checked against
# (tests/deploy/manifests/), pinned by its package-lock.json.
if [[ "$mode" == "--test" ]]; then
  (cd "$here/tests/deploy/manifests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
