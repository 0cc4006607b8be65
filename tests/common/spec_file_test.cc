#include "common/spec_file.h"

#include "gtest/gtest.h"

namespace deepevolve {
namespace {

TEST(SpecFileTest, YamlAndJsonMapOntoTheProto) {
  auto yaml = ParseSearchSpec(
      "preset: fashion_mnist_mlp\ntask:\n  epochs: 2\n  train_limit: 30000\n"
      "generational:\n  population: 12\n  mutate_chance: 0.5\nseed: 7\n",
      "quick.yaml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->preset(), "fashion_mnist_mlp");
  EXPECT_EQ(yaml->task().train_limit(), 30000);
  EXPECT_EQ(yaml->generational().population(), 12);
  EXPECT_DOUBLE_EQ(yaml->generational().mutate_chance(), 0.5);
  EXPECT_EQ(yaml->seed(), 7u);
  auto json =
      ParseSearchSpec(R"({"preset": "mnist_cnn", "steadyState": {"trials": 50}})", "s.json");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->steady_state().trials(), 50);
}

// YAML scalars carry no type: the field they are meant for gives it.
TEST(SpecFileTest, AYamlNumberMeantAsAStringIsTheString) {
  auto yaml = ParseSearchSpec(
      "name: 2024\ntask: {dataset: fashion_mnist, net: MLP, epochs: 1}\n"
      "space:\n  genes:\n  - name: activation\n    values: [{string_value: 1}, "
      "{string_value: relu}]\n  - name: nb_layers\n    values: [{int_value: 2}]\n",
      "numbers.yaml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(yaml->name(), "2024");
  EXPECT_EQ(yaml->space().genes(0).values(0).string_value(), "1");
  EXPECT_EQ(yaml->space().genes(1).values(0).int_value(), 2);
  EXPECT_EQ(yaml->task().epochs(), 1);
}

TEST(SpecFileTest, ErrorsNameTheFile) {
  auto unknown = ParseSearchSpec("preset: mnist_mlp\npopulaton: 3\n", "typo.yaml");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("typo.yaml"), std::string::npos);
  EXPECT_EQ(LoadSearchSpecFile("/nonexistent/spec.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace deepevolve
