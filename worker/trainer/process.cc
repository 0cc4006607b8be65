#include "worker/trainer/process.h"

#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace deepevolve::trainer {

int64_t PhysicalMemoryBytes() {
  int64_t bytes = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  for (const char* limit :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(limit);
    int64_t cgroup = 0;
    if (in >> cgroup && cgroup > 0) bytes = std::min(bytes, cgroup);
  }
  return bytes;
}

int64_t CudaDeviceBytes(int index) {
  using GetDeviceFn = int (*)(int*);
  using SetDeviceFn = int (*)(int);
  using MemGetInfoFn = int (*)(size_t*, size_t*);
  auto get_device = reinterpret_cast<GetDeviceFn>(dlsym(RTLD_DEFAULT, "cudaGetDevice"));
  auto set_device = reinterpret_cast<SetDeviceFn>(dlsym(RTLD_DEFAULT, "cudaSetDevice"));
  auto mem_get_info = reinterpret_cast<MemGetInfoFn>(dlsym(RTLD_DEFAULT, "cudaMemGetInfo"));
  if (get_device == nullptr || set_device == nullptr || mem_get_info == nullptr) return 0;
  int current = 0;
  if (get_device(&current) != 0 || set_device(index) != 0) return 0;
  size_t free = 0, total = 0;
  const bool ok = mem_get_info(&free, &total) == 0;
  set_device(current);
  return ok ? static_cast<int64_t>(total) : 0;
}

namespace {

// Starts this program again with the environment as it is now.
void Reexec() {
  std::ifstream cmdline("/proc/self/cmdline");
  std::string raw((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  std::vector<std::string> args = absl::StrSplit(raw, '\0');
  if (!args.empty() && args.back().empty()) args.pop_back();
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  // exec failed: go on as we are rather than not at all.
}

// Set to the kernel this process asked OpenBLAS for, so the child checks it once.
constexpr char kChosenCoreEnv[] = "DEEPEVOLVE_OPENBLAS_CORE";

}  // namespace

std::string OpenBlasCore() {
  using CoreFn = char* (*)();
  auto core = reinterpret_cast<CoreFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (core == nullptr) return "";
  const char* name = core();
  return name == nullptr ? "" : name;
}

std::string BetterOpenBlasCore(const std::string& detected, bool avx512, bool avx2_fma) {
  if (detected.empty()) return "";
  const std::string core = absl::AsciiStrToLower(detected);
  const bool has_avx512_kernels =
      core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
  const bool has_avx2_kernels = has_avx512_kernels || core == "haswell" || core == "zen";
  if (avx512 && !has_avx512_kernels) return "SkylakeX";
  if (avx2_fma && !has_avx2_kernels) return "Haswell";
  return "";
}

bool BlasMatchesReference() {
  using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*,
                           const float*, const float*, const int*, const float*, const int*,
                           const float*, float*, const int*);
  auto sgemm = reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  if (sgemm == nullptr) return true;  // nothing of ours to check
  uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / static_cast<float>(1u << 24) - 0.5f;
  };
  // Odd sizes reach the edge paths of the kernels, large ones the packed main loop.
  for (const auto& [m, n, k] : std::vector<std::tuple<int, int, int>>{
           {1, 1, 1}, {7, 5, 3}, {67, 45, 33}, {128, 96, 200}, {257, 129, 65}}) {
    std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n),
        c(static_cast<size_t>(m) * n, 0.0f);
    for (float& x : a) x = next();
    for (float& x : b) x = next();
    const float one = 1.0f, zero = 0.0f;
    // Column-major: C (m x n) = A (m x k) * B (k x n).
    sgemm("N", "N", &m, &n, &k, &one, a.data(), &m, b.data(), &k, &zero, c.data(), &m);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double exact = 0, scale = 0;
        for (int p = 0; p < k; ++p) {
          const double term = static_cast<double>(a[i + static_cast<size_t>(p) * m]) *
                              b[p + static_cast<size_t>(j) * k];
          exact += term;
          scale += std::abs(term);
        }
        // Float rounding moves a k-term dot product by at most about k * eps * scale.
        if (std::abs(c[i + static_cast<size_t>(j) * m] - exact) > 2.0 * k * FLT_EPSILON * scale) {
          return false;
        }
      }
    }
  }
  return true;
}

void PrepareProcessForTraining() {
  // Every training step frees and allocates the same few megabytes of tensors. With
  // glibc's defaults the larger ones are fresh mmaps, paid for in page faults and page
  // zeroing each step; kept in the heap they are reused (measured: MLP 784-512-512-10
  // at batch 64, ~11 000 -> ~14 500 samples/s on one core). The heap keeps up to
  // 512 MiB free, which a training worker can spare.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  mallopt(M_TOP_PAD, 64 << 20);
  if (const char* chosen = std::getenv(kChosenCoreEnv); chosen != nullptr) {
    // Started again by the code below: check the kernel asked for; if it is wrong,
    // start once more on OpenBLAS's own choice.
    if (*chosen != '\0' && !BlasMatchesReference()) {
      std::fprintf(stderr,
                   "deepevolve: OpenBLAS kernel %s gave wrong sgemm results; using OpenBLAS's "
                   "own choice\n",
                   chosen);
      unsetenv("OPENBLAS_CORETYPE");
      setenv(kChosenCoreEnv, "", 1);
      Reexec();
    }
    unsetenv(kChosenCoreEnv);  // programs this one starts choose for themselves
    return;
  }
  bool again = false;
  // libgomp reads OMP_WAIT_POLICY when it loads, before main.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    again = true;
  }
  // OpenBLAS's idle threads spin on sched_yield between calls; after this many
  // (2^4 x 1024) cycles they sleep instead, which frees the core for the rest of the
  // step (measured: sys time 1.6 -> 0.45 s in a bench run at equal throughput).
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT") == nullptr) {
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
    again = true;
  }
  // OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE or cpuid.
  std::string better;
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    __builtin_cpu_init();
    better = BetterOpenBlasCore(
        OpenBlasCore(),
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"),
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  }
  if (!better.empty()) {
    setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
    again = true;
  }
  if (again) {
    setenv(kChosenCoreEnv, better.c_str(), 1);
    Reexec();
    unsetenv(kChosenCoreEnv);
  }
}

}  // namespace deepevolve::trainer
