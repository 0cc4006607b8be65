// Time as the master and workers see it, injected so tests control it.
#ifndef DEEPEVOLVE_COMMON_CLOCK_H_
#define DEEPEVOLVE_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace deepevolve {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

class RealClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static RealClock* Get() {
    static RealClock clock;
    return &clock;
  }
};

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_CLOCK_H_
