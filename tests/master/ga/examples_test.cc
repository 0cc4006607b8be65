// Every spec file under examples/ (the README points at them) reads and resolves.
#include <filesystem>

#include "gtest/gtest.h"
#include "master/ga/spec.h"
#include "master/ga/spec_file.h"

namespace deepevolve::ga {
namespace {

namespace fs = std::filesystem;

TEST(ExamplesTest, EverySpecFileResolves) {
  int seen = 0;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(fs::path(DEEPEVOLVE_SOURCE_DIR) / "examples")) {
    if (entry.path().extension() != ".yaml" && entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    auto spec = LoadSearchSpecFile(entry.path().string());
    ASSERT_TRUE(spec.ok()) << spec.status();
    auto resolved = ResolveSearchSpec(*spec);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

// The shorthand's space is the space the proto form gives.
TEST(ExamplesTest, TheOwnSpaceExampleHasItsGenesInOrder) {
  auto spec = LoadSearchSpecFile(std::string(DEEPEVOLVE_SOURCE_DIR) + "/examples/own_space.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto resolved = ResolveSearchSpec(*spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const v1::GeneSpace& space = resolved->space();
  ASSERT_EQ(space.genes_size(), 5);
  EXPECT_EQ(space.genes(0).name(), "nb_neurons");
  EXPECT_EQ(space.genes(0).values_size(), 8);
  EXPECT_EQ(space.genes(3).name(), "optimizer");
  ASSERT_EQ(space.genes(4).values_size(), 5);
  EXPECT_DOUBLE_EQ(space.genes(4).values(1).float_value(), 0.000316);
}

}  // namespace
}  // namespace deepevolve::ga
