// A Prometheus-style histogram with fixed buckets (seconds), for /metrics. Thread-safe
// and lock-free on the recording path.
#ifndef DEEPEVOLVE_COMMON_HISTOGRAM_H_
#define DEEPEVOLVE_COMMON_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace deepevolve {

class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  void Observe(double seconds);
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Appends `name{labels,le="..."}` bucket, _sum and _count lines.
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<int64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_micros_{0};
};

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_HISTOGRAM_H_
