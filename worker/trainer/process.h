// The worker process's set-up for training, none of it LibTorch's: memory, the BLAS
// kernel and its threads' waiting, and the devices' memory.
#ifndef DEEPEVOLVE_WORKER_TRAINER_PROCESS_H_
#define DEEPEVOLVE_WORKER_TRAINER_PROCESS_H_

#include <cstdint>
#include <string>

namespace deepevolve::trainer {

// Prepares the process for CPU training before any OpenMP thread starts, re-executing
// it once when an environment variable must be set before the libraries load:
//  - OpenMP waits passively (spinning threads that share cores slowed training 24x);
//  - when OpenBLAS fell back to old kernels on a CPU it did not recognise ("Prescott"
//    on CPUs with AVX-512), it is asked for the best kernel the CPU supports
//    (OPENBLAS_CORETYPE), and that kernel's sgemm is checked against a reference
//    before it is trusted; if it is wrong, the process runs on OpenBLAS's own choice.
// OPENBLAS_CORETYPE set by the user is left alone. Call first in main.
void PrepareProcessForTraining();

// The kernel set OpenBLAS runs ("Prescott", "SkylakeX", ...), or "" when libblas.so.3
// is not OpenBLAS.
std::string OpenBlasCore();

// The OpenBLAS kernel set to ask for instead of `detected` on a CPU with these
// features, or "" to keep `detected`.
std::string BetterOpenBlasCore(const std::string& detected, bool avx512, bool avx2_fma);

// Multiplies a few odd-sized matrices with the loaded BLAS's sgemm and compares them
// with a double-precision reference; false if any entry is off by more than float
// rounding allows.
bool BlasMatchesReference();

// The memory of this machine, or of this process's cgroup when that is less.
int64_t PhysicalMemoryBytes();

// The memory of CUDA device `index`, asked of the CUDA runtime LibTorch has loaded
// (looked up at run time, so that a CPU-only LibTorch builds this file too); 0 where
// there is none to ask.
int64_t CudaDeviceBytes(int index);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_PROCESS_H_
