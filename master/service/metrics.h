// Latency histograms of the master's RPCs, for /metrics. Thread-safe and lock-free on
// the recording path.
#ifndef DEEPEVOLVE_MASTER_SERVICE_METRICS_H_
#define DEEPEVOLVE_MASTER_SERVICE_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/histogram.h"

namespace deepevolve::master {

using ::deepevolve::Histogram;

// One histogram per RPC method of the two services.
class RpcMetrics {
 public:
  enum Method {
    kSubmit,
    kGet,
    kList,
    kWatch,
    kCancel,
    kLeaderboard,
    kListTrials,
    kGetModel,
    kRegister,
    kAcquire,
    kHeartbeat,
    kReport,
    kSaveCheckpoint,
    kGetCheckpoint,
    kReadSpec,
    kImportTrials,
    kNumMethods
  };
  static const char* Name(Method m);
  Histogram& histogram(Method m) { return histograms_[m]; }
  // A worker call refused because its certificate names another worker.
  void CountImpersonation() { ++impersonations_; }
  int64_t impersonations() const { return impersonations_.load(); }
  void Render(std::string* out) const;

 private:
  std::array<Histogram, kNumMethods> histograms_;
  std::atomic<int64_t> impersonations_{0};
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
