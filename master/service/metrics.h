// Latency histograms of the master's RPCs, for /metrics. Thread-safe and lock-free on
// the recording path.
#ifndef DEEPEVOLVE_MASTER_SERVICE_METRICS_H_
#define DEEPEVOLVE_MASTER_SERVICE_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace deepevolve::master {

// A Prometheus-style histogram with fixed buckets (seconds).
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,  0.1,    0.25,  0.5,
                                                     1,      2.5,   5,      10};
  void Observe(double seconds);
  // Appends `name{labels,le="..."}` bucket, _sum and _count lines.
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<int64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_micros_{0};
};

// One histogram per RPC method of the two services.
class RpcMetrics {
 public:
  enum Method { kSubmit, kGet, kList, kWatch, kCancel, kLeaderboard, kListTrials, kGetModel,
                kRegister, kAcquire, kHeartbeat, kReport, kNumMethods };
  static const char* Name(Method m);
  Histogram& histogram(Method m) { return histograms_[m]; }
  void Render(std::string* out) const;

 private:
  std::array<Histogram, kNumMethods> histograms_;
};

// Records the time from construction to destruction into a histogram (none if null).
class ScopedRpcTimer {
 public:
  ScopedRpcTimer(RpcMetrics* metrics, RpcMetrics::Method method)
      : histogram_(metrics == nullptr ? nullptr : &metrics->histogram(method)),
        start_(std::chrono::steady_clock::now()) {}
  ~ScopedRpcTimer() {
    if (histogram_ != nullptr) {
      histogram_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
  }

 private:
  Histogram* histogram_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace deepevolve::master

#endif  // DEEPEVOLVE_MASTER_SERVICE_METRICS_H_
