// gMock matchers for absl::Status and absl::StatusOr<T>:
//   EXPECT_THAT(master->Get(7), StatusIs(absl::StatusCode::kNotFound, HasSubstr("7")));
//   EXPECT_THAT(store->PutTrial(t), IsOk());
#ifndef DEEPEVOLVE_TESTS_TESTING_STATUS_MATCHERS_H_
#define DEEPEVOLVE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace deepevolve::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "which is " << status.ToString();
  return status.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           absl::StrCat("has code ", absl::StatusCodeToString(code), " and a message that ",
                        ::testing::DescribeMatcher<std::string>(message_matcher))) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "which is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_STATUS_MATCHERS_H_
