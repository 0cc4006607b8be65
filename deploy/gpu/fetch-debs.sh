#!/usr/bin/env bash
# Run on a Debian 12 machine with its package archive at hand: downloads (does not
# install) the Debian packages that build-with-torch.sh unpacks on a GPU machine where
# nothing can be installed, into deploy/gpu/debs/, and copies the Fashion-MNIST files of
# Debian's dataset-fashion-mnist into deploy/gpu/data/fashion-mnist/ for the checks'
# training. About 23 MB of packages and 30 MB of images; both folders are ignored by git.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The libraries deepevolve builds against, their own libraries, and the tools of the
# build (protoc, grpc_cpp_plugin, pkg-config); never libc or libstdc++, which the GPU
# machine's compiler brings.
packages=(
  libgrpc++-dev libgrpc++1.51 libgrpc-dev libgrpc29 protobuf-compiler-grpc
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 libprotoc32 protobuf-compiler
  libabsl-dev libabsl20220623 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libsqlite3-dev libsqlite3-0 libcpp-httplib-dev libcpp-httplib0.11 nlohmann-json3-dev
  libcli11-dev libyaml-cpp-dev libyaml-cpp0.7 libcsv-dev libcsv3 libgtest-dev libgmock-dev
  zlib1g-dev zlib1g libssl-dev libssl3 libre2-9 libre2-dev libc-ares2 libc-ares-dev
  libbrotli1 libbrotli-dev pkgconf libpkgconf3 pkgconf-bin
)
rm -rf "$here/debs"
mkdir -p "$here/debs"
(cd "$here/debs" && apt-get download "${packages[@]}")

data=/usr/share/datasets/fashion-mnist
if [[ ! -f $data/train-images-idx3-ubyte.gz ]]; then
  echo "fetch-debs: $data is missing: apt-get install dataset-fashion-mnist" >&2
  exit 1
fi
mkdir -p "$here/data/fashion-mnist"
cp "$data"/*.gz "$here/data/fashion-mnist/"
du -sh "$here/debs" "$here/data"
