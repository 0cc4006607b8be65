// A directory of one test's own, removed with everything in it when the test ends.
#ifndef DEEPEVOLVE_TESTS_TESTING_TEMP_DIR_H_
#define DEEPEVOLVE_TESTS_TESTING_TEMP_DIR_H_

#include <filesystem>
#include <string>

namespace deepevolve::testing {

// Created empty under $TEST_TMPDIR (or the system's temporary directory), named after
// the running test and the process, so tests running in parallel never share one.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_TEMP_DIR_H_
