#include "cli/certs.h"

#include <sys/stat.h>

#include "common/grpc_security.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::cli {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(CertsTest, KeysAndTokenAreTheOwnersOnlyAndEachWorkerGetsItsNamedCertificate) {
  ::deepevolve::testing::TempDir dir;
  CertsOptions options;
  options.out_dir = dir.File("certs");
  options.workers = {"gpu-node-1", "gpu-node-2"};
  ASSERT_THAT(MakeCerts(options), IsOk());
  for (const char* secret :
       {"ca.key", "master.key", "worker.key", "worker-gpu-node-1.key", "token"}) {
    EXPECT_EQ(Mode(options.out_dir + "/" + secret), 0600u) << secret;
  }
  EXPECT_EQ(Mode(options.out_dir + "/ca.pem") & 077, Mode(options.out_dir + "/ca.pem") & 044);
  auto name = CertificateName(options.out_dir + "/worker-gpu-node-2.pem");
  ASSERT_THAT(name, IsOk());
  EXPECT_EQ(*name, "gpu-node-2");
  EXPECT_EQ(*CertificateName(options.out_dir + "/worker.pem"), "deepevolve-worker");
  // A second run would replace the CA: refused.
  EXPECT_THAT(MakeCerts(options), StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ca.key")));
}

TEST(CertsTest, AWorkerNameMustBePlain) {
  ::deepevolve::testing::TempDir dir;
  CertsOptions options;
  options.out_dir = dir.File("certs");
  options.workers = {"a/b"};
  EXPECT_THAT(MakeCerts(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--worker")));
}

}  // namespace
}  // namespace deepevolve::cli
