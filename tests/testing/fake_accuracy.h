// The accuracy pretend trainers give a genome: a fixed function of its hash.
#ifndef DEEPEVOLVE_TESTS_TESTING_FAKE_ACCURACY_H_
#define DEEPEVOLVE_TESTS_TESTING_FAKE_ACCURACY_H_

#include <string>

namespace deepevolve::testing {

// A fixed accuracy in [0.5, 0.9) from the first six hex digits of `hash`.
inline double FakeAccuracy(const std::string& hash) {
  return 0.5 + 0.4 * static_cast<double>(std::stoul(hash.substr(0, 6), nullptr, 16)) / (1 << 24);
}

// Its learning curve: 0.1 * (epochs - epoch) / epochs below that after `epoch`, reaching
// it at the last, so that genomes rank the same after every epoch.
inline double FakeAccuracy(const std::string& hash, int epoch, int epochs) {
  return FakeAccuracy(hash) - 0.1 * (epochs - epoch) / epochs;
}

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_FAKE_ACCURACY_H_
