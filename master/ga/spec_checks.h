// The field checks spec resolution and the strategies' rows share: each error starts
// with the field's path ("guided.trials: must be in [1, 10000000], got 0").
#ifndef DEEPEVOLVE_MASTER_GA_SPEC_CHECKS_H_
#define DEEPEVOLVE_MASTER_GA_SPEC_CHECKS_H_

#include <cmath>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace deepevolve::ga {

inline absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

inline absl::Status CheckRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

inline absl::Status CheckFraction(absl::string_view field, double value, bool allow_zero = true,
                                  double hi = 1.0) {
  if (!std::isfinite(value) || value < 0 || (!allow_zero && value == 0) || value > hi) {
    return Invalid(
        field, absl::StrCat("must be in ", allow_zero ? "[" : "(", "0, ", hi, "], got ", value));
  }
  return absl::OkStatus();
}

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_SPEC_CHECKS_H_
