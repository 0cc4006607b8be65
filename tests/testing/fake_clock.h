// A clock that moves only when told, for tests and simulations.
#ifndef DEEPEVOLVE_TESTS_TESTING_FAKE_CLOCK_H_
#define DEEPEVOLVE_TESTS_TESTING_FAKE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace deepevolve::testing {

// Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_FAKE_CLOCK_H_
