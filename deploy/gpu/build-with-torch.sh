#!/usr/bin/env bash
# Builds deepevolve against the LibTorch inside the GPU machine's PyTorch wheel (CUDA),
# on a machine where no package can be installed: every other dependency comes from the
# Debian 12 packages fetch-debs.sh downloaded, unpacked (dpkg -x) into a prefix.
#
#   deploy/gpu/build-with-torch.sh [TARGET...]
#
# Needs a C++ compiler, CMake, ninja, python3 with torch, and the CUDA toolkit that
# torch was built for. Builds into build-gpu/ (default targets: the worker, the master,
# the CLI, trainer_bench and the trainer's tests) and writes build-gpu/env.sh, which
# sets LD_LIBRARY_PATH for running what it built. Environment:
#   DEEPEVOLVE_DEBS          the .deb files (deploy/gpu/debs)
#   DEEPEVOLVE_DEPS_PREFIX   where they are unpacked (/tmp/deepevolve-deps)
#   DEEPEVOLVE_GPU_BUILD     the build directory (build-gpu)
#   PYTHON                   the python3 that holds torch (python3)
#   LIBTORCH                 a LibTorch's root instead (share/cmake, lib, include)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
debs=${DEEPEVOLVE_DEBS:-$root/deploy/gpu/debs}
prefix=${DEEPEVOLVE_DEPS_PREFIX:-/tmp/deepevolve-deps}
build=${DEEPEVOLVE_GPU_BUILD:-$root/build-gpu}
python=${PYTHON:-python3}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(deepevolve-worker deepevolve-master deepevolve trainer_bench trainer_cuda_test
           trainer_optim_test trainer_model_test trainer_data_test trainer_train_test
           program_trainer_test)
fi

ls "$debs"/*.deb >/dev/null 2>&1 || {
  echo "build-with-torch: no .deb files in $debs (run deploy/gpu/fetch-debs.sh on Debian 12)" >&2
  exit 1
}
# PyTorch's wheel carries headers of its own fmt (and protobuf) in torch/include: spdlog
# and the fmt it was built with go to a prefix of their own, so that only the targets
# that log (never the trainer's) see Debian's fmt.
fmt_prefix=$prefix/fmt
mkdir -p "$prefix" "$fmt_prefix"
for deb in "$debs"/*.deb; do
  into=$prefix
  case $(basename "$deb") in libfmt* | libspdlog*) into=$fmt_prefix ;; esac
  if command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$deb" "$into"
  else
    tmp=$(mktemp -d)
    (cd "$tmp" && ar x "$deb" && tar -xf data.tar.* -C "$into")
    rm -rf "$tmp"
  fi
done
lib=$prefix/usr/lib/x86_64-linux-gnu
fmt_lib=$fmt_prefix/usr/lib/x86_64-linux-gnu

# The unpacked tools (protoc and the gRPC plugin it runs, pkgconf) need the unpacked
# libraries; the compiler and CMake keep the machine's own.
wrap=$prefix/wrap
mkdir -p "$wrap"
for tool in protoc pkgconf; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' \
    "$lib" "$prefix/usr/bin/$tool" >"$wrap/$tool"
  chmod +x "$wrap/$tool"
done
# Their .pc files say prefix=/usr: the sysroot puts the prefix in front.
export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$prefix/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$prefix

if [[ -n ${LIBTORCH:-} ]]; then
  # A LibTorch of its own (pytorch.org's archive unpacked, or a system's prefix).
  torch_cmake=$LIBTORCH
  torch_lib=$LIBTORCH/lib
  torch_include=$LIBTORCH/include
  nvidia_libs=
else
  torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  torch_lib=$("$python" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
  torch_include=$(dirname "$torch_lib")/include
  # The CUDA libraries of the wheel (cuBLAS, cuDNN, ...) live in site-packages/nvidia.
  nvidia_libs=$("$python" - <<'PY'
import glob, os, torch
site = os.path.dirname(os.path.dirname(torch.__file__))
print(":".join(sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))))
PY
)
  "$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
        "cxx11 abi", torch.compiled_with_cxx11_abi())'
fi
# LibTorch from 2.12 on refuses C++17; older ones take both.
std=17
if grep -rqs "C++20 or later" "$torch_include/c10/macros" "$torch_include/c10/util/C++17.h"; then
  std=20
fi

rpath_link="-Wl,-rpath-link,$lib -Wl,-rpath-link,$fmt_lib -Wl,-rpath-link,$torch_lib"
IFS=: read -r -a nvidia_dirs <<<"$nvidia_libs"
for d in ${nvidia_dirs[@]+"${nvidia_dirs[@]}"}; do rpath_link+=" -Wl,-rpath-link,$d"; done
# The C++ library first among a program's libraries: a wheel's LibTorch may export its
# own copies of libstdc++ functions (std::filesystem's, from the static parts of the
# compiler it was built with), and the first library that defines a symbol wins.
exe_link="-Wl,--push-state,--no-as-needed -lstdc++ -Wl,--pop-state $rpath_link"
for so in "$torch_lib"/libtorch_cpu.so "$torch_lib"/libc10.so; do
  [[ -f $so ]] && echo "build-with-torch: $(basename "$so") exports" \
    "$(nm -D --defined-only "$so" 2>/dev/null | c++filt | grep -c 'std::filesystem') std::filesystem" \
    "and $(nm -D --defined-only "$so" 2>/dev/null | c++filt | grep -c 'std::__cxx11::basic_string') std::string symbols"
done

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_STANDARD=$std \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$fmt_prefix/usr;$torch_cmake" \
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DProtobuf_PROTOC_EXECUTABLE="$wrap/protoc" \
  -DGRPC_CPP_PLUGIN="$prefix/usr/bin/grpc_cpp_plugin" \
  -DPKG_CONFIG_EXECUTABLE="$wrap/pkgconf" \
  -DCMAKE_EXE_LINKER_FLAGS="$exe_link" \
  -DCMAKE_SHARED_LINKER_FLAGS="$rpath_link" \
  -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
  -DDEEPEVOLVE_BUILD_TESTS=ON
cmake --build "$build" --parallel "$(nproc)" --target "${targets[@]}"

cat >"$build/env.sh" <<EOF
# Sourced before running what build-with-torch.sh built: the unpacked Debian libraries.
export LD_LIBRARY_PATH=$lib:$fmt_lib:$torch_lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
EOF
echo "build-with-torch: built ${targets[*]} in $build (C++$std); source $build/env.sh to run them"
