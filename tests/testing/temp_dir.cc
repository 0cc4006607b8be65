#include "tests/testing/temp_dir.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace deepevolve::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* root = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      test == nullptr ? "deepevolve" : absl::StrCat(test->test_suite_name(), ".", test->name());
  path_ = (root != nullptr && *root != '\0' ? fs::path(root) : fs::temp_directory_path()) /
          absl::StrCat(name, "-", getpid());
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace deepevolve::testing
