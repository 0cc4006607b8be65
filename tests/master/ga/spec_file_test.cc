#include "master/ga/spec_file.h"

#include <string>
#include <utility>
#include <vector>

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
// Found by spec_file_fuzz: a YAML string with a byte that is not UTF-8 made the JSON
// library throw on the way to protobuf, aborting the CLI.
TEST(SpecFileTest, BytesThatAreNotUtf8AreAnErrorNotACrash) {
  auto spec = ParseSearchSpec("name: caf\xa9\npreset: fashion_mnist_mlp\n", "x.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(), "x.yaml: holds bytes that are not UTF-8 text");
  EXPECT_FALSE(ParseSearchSpec("genes:\n  g: [\"\xff\", b]\n", "y.yaml").ok());
}

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

// The form a person writes: each gene's values as a list or an integer range, in the
// order written, in YAML and in JSON alike.
TEST(SpecFileTest, GenesAreWrittenAsListsAndRanges) {
  const char* yaml =
      "task: {dataset: fashion_mnist, net: MLP}\n"
      "genes:\n"
      "  nb_neurons: {range: [64, 256], step: 64}\n"
      "  nb_layers: {range: [1, 3]}\n"
      "  optimizer: [adam, sgd]\n"
      "  activation: [relu, \"1\"]\n";
  const char* json =
      R"({"task": {"dataset": "fashion_mnist", "net": "MLP"}, "genes": {"nb_neurons": )"
      R"({"range": [64, 256], "step": 64}, "nb_layers": {"range": [1, 3]}, "optimizer": )"
      R"(["adam", "sgd"], "activation": ["relu", "1"]}})";
  for (const auto& [text, source] : {std::pair{yaml, "g.yaml"}, std::pair{json, "g.json"}}) {
    SCOPED_TRACE(source);
    auto spec = ParseSearchSpec(text, source);
    ASSERT_TRUE(spec.ok()) << spec.status();
    const v1::GeneSpace& space = spec->space();
    ASSERT_EQ(space.genes_size(), 4);
    EXPECT_EQ(space.genes(0).name(), "nb_neurons");
    ASSERT_EQ(space.genes(0).values_size(), 4);
    EXPECT_EQ(space.genes(0).values(0).int_value(), 64);
    EXPECT_EQ(space.genes(0).values(3).int_value(), 256);
    EXPECT_EQ(space.genes(1).name(), "nb_layers");
    EXPECT_EQ(space.genes(1).values_size(), 3);
    EXPECT_EQ(space.genes(2).name(), "optimizer");
    EXPECT_EQ(space.genes(2).values(1).string_value(), "sgd");
    EXPECT_EQ(space.genes(3).values(1).string_value(), "1");  // quoted: a name
  }
}

// Numbers, listed or on a log scale (rounded to 3 significant digits).
TEST(SpecFileTest, NumberGenesAreListedOrSpacedOnALogScale) {
  auto spec = ParseSearchSpec(
      "genes:\n  learning_rate: {log_range: [1e-4, 1e-1], points: 4}\n"
      "  dropout: [0.0, 0.25, 0.5]\n",
      "n.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const v1::Gene& lr = spec->space().genes(0);
  ASSERT_EQ(lr.values_size(), 4);
  EXPECT_DOUBLE_EQ(lr.values(0).float_value(), 1e-4);
  EXPECT_DOUBLE_EQ(lr.values(1).float_value(), 1e-3);
  EXPECT_DOUBLE_EQ(lr.values(2).float_value(), 1e-2);
  EXPECT_DOUBLE_EQ(lr.values(3).float_value(), 1e-1);
  const v1::Gene& dropout = spec->space().genes(1);
  ASSERT_EQ(dropout.values_size(), 3);
  EXPECT_EQ(dropout.values(0).value_case(), v1::GeneValue::kFloatValue);
  EXPECT_DOUBLE_EQ(dropout.values(2).float_value(), 0.5);
  auto thirteen = ParseSearchSpec("genes: {lr: {log_range: [1e-4, 1e-1], points: 13}}", "t.yaml");
  ASSERT_TRUE(thirteen.ok()) << thirteen.status();
  EXPECT_DOUBLE_EQ(thirteen->space().genes(0).values(1).float_value(), 0.000178);
}

// YAML's and JSON's booleans are the names batch_norm takes.
TEST(SpecFileTest, BooleansAreTheNamesTrueAndFalse) {
  for (const char* text :
       {"genes: {batch_norm: [false, true]}", R"({"genes": {"batch_norm": [false, true]}})"}) {
    auto spec = ParseSearchSpec(text, "b.yaml");
    ASSERT_TRUE(spec.ok()) << spec.status();
    const v1::Gene& norm = spec->space().genes(0);
    ASSERT_EQ(norm.values_size(), 2);
    EXPECT_EQ(norm.values(0).string_value(), "false");
    EXPECT_EQ(norm.values(1).string_value(), "true");
  }
}

TEST(SpecFileTest, BadGenesAreRefusedNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"genes: {nb_neurons: {range: [512, 64]}}",
       "genes.nb_neurons.range: min 512 is above max 64"},
      {"genes: {nb_neurons: {range: [1, 64], step: 0}}", "genes.nb_neurons.step"},
      {"genes: {nb_neurons: {range: [1, 1000000000]}}", "1000000000 values, more than the 256"},
      {"genes: {nb_neurons: {range: [1, 2.5]}}", "genes.nb_neurons.range: must be [min, max]"},
      {"genes: {nb_neurons: {range: [1, 4], stride: 2}}", "genes.nb_neurons.stride: unknown key"},
      {"genes: {nb_layers: [1, null]}", "genes.nb_layers[1]: null is not a gene value"},
      {"genes: {lr: {log_range: [0, 0.1], points: 4}}", "genes.lr.log_range: both ends"},
      {"genes: {lr: {log_range: [0.1, 0.001], points: 4}}", "min 0.1 is not below max 0.001"},
      {"genes: {lr: {log_range: [0.001, 0.1], points: 1}}", "genes.lr.points: must be"},
      {"genes: {lr: {log_range: [0.001, 0.1]}}", "genes.lr.points"},
      {"genes: {lr: {log_range: [1, 1.001], points: 50}}", "round to"},
      {"genes: {lr: {log_range: [.nan, 1], points: 3}}", "genes.lr.log_range"},
      {"genes: {nb_layers: [1, [2]]}", "genes.nb_layers[1]"},
      {"genes: {nb_layers: 3}", "genes.nb_layers: a list of values"},
      {"genes: [nb_layers]", "genes: a mapping"},
      {"genes: {nb_layers: [1, 2]}\nspace: {genes: []}", "not both"},
      {"genes:\n  nb_layers: [1, 2]\n  nb_layers: [3, 4]\n",
       "bad.yaml:3: 'nb_layers' is given twice"},
  };
  for (const auto& [text, want] : cases) {
    auto spec = ParseSearchSpec(text, "bad.yaml");
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(spec.status().message().find(want), std::string::npos)
        << text << " -> " << spec.status();
  }
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
