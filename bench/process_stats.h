// What the benchmark programs that start a master measure of it, and how they sum up
// their samples.
#ifndef DEEPEVOLVE_BENCH_PROCESS_STATS_H_
#define DEEPEVOLVE_BENCH_PROCESS_STATS_H_

#include <sys/types.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace deepevolve::bench {

// The value below which a fraction `p` of the samples lie (nearest rank); 0 for none.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

inline double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// A process's resident memory in MiB (VmRSS), 0 when unreadable.
inline double ResidentMiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      double kib = 0;
      (void)absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(6, line.size() - 9)), &kib);
      return kib / 1024;
    }
  }
  return 0;
}

}  // namespace deepevolve::bench

#endif  // DEEPEVOLVE_BENCH_PROCESS_STATS_H_
