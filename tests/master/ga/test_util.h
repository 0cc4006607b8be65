// Helpers shared by the GA tests.
#ifndef DEEPEVOLVE_TESTS_MASTER_GA_TEST_UTIL_H_
#define DEEPEVOLVE_TESTS_MASTER_GA_TEST_UTIL_H_

#include "genome/space.h"
#include "gtest/gtest.h"
#include "master/ga/presets.h"
#include "master/ga/spec.h"

namespace deepevolve::ga::testing {

inline genome::SearchSpace PresetSpace(const char* name) {
  auto space = genome::SearchSpace::FromProto(FindPreset(name)->space);
  EXPECT_TRUE(space.ok()) << space.status();
  return *space;
}

inline v1::SearchSpec ResolvedPreset(const char* name, v1::SearchSpec spec = {}) {
  spec.set_preset(name);
  auto resolved = ResolveSearchSpec(spec);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return *resolved;
}

}  // namespace deepevolve::ga::testing

#endif  // DEEPEVOLVE_TESTS_MASTER_GA_TEST_UTIL_H_
