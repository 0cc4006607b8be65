// A search of accuracy against size, the objectives most tests of several objectives use.
#ifndef DEEPEVOLVE_TESTS_TESTING_OBJECTIVES_H_
#define DEEPEVOLVE_TESTS_TESTING_OBJECTIVES_H_

#include "deepevolve/v1/search.pb.h"

namespace deepevolve::testing {

// Adds the objectives accuracy (maximized) and params (minimized) to `spec`.
inline v1::SearchSpec& AccuracyAgainstParams(v1::SearchSpec& spec) {
  v1::Objective* accuracy = spec.add_objectives();
  accuracy->set_metric("accuracy");
  accuracy->set_goal("maximize");
  v1::Objective* params = spec.add_objectives();
  params->set_metric("params");
  params->set_goal("minimize");
  return spec;
}

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_OBJECTIVES_H_
