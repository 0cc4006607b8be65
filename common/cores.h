// How many cores this process may really use.
#ifndef DEEPEVOLVE_COMMON_CORES_H_
#define DEEPEVOLVE_COMMON_CORES_H_

namespace deepevolve {

// The affinity mask, capped by a cgroup (v2) CPU quota; at least 1.
int AvailableCores();

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_CORES_H_
