#include "common/cores.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"

namespace deepevolve {

int AvailableCores() {
  cpu_set_t set;
  int cores = sched_getaffinity(0, sizeof(set), &set) == 0
                  ? CPU_COUNT(&set)
                  : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream max("/sys/fs/cgroup/cpu.max");  // cgroup v2: "<quota|max> <period>"
  std::string quota, period;
  if (max >> quota >> period && quota != "max") {
    double q, p;
    if (absl::SimpleAtod(quota, &q) && absl::SimpleAtod(period, &p) && p > 0) {
      cores = std::min(cores, std::max(1, static_cast<int>(std::ceil(q / p))));
    }
  }
  return std::max(1, cores);
}

}  // namespace deepevolve
