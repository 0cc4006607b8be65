#include "genome/space.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/master/ga/test_util.h"

namespace deepevolve::genome {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<Gene> FourGenes() {
  return {{"nb_neurons", {int64_t{64}, int64_t{128}}},
          {"nb_layers", {int64_t{1}, int64_t{2}}},
          {"activation", {std::string("relu"), std::string("tanh")}},
          {"optimizer", {std::string("adam"), std::string("sgd")}}};
}

void ExpectRejected(std::vector<Gene> genes, const std::string& field, const std::string& words,
                    GeneNames names = GeneNames::kTrainable) {
  auto space = SearchSpace::Create(std::move(genes), names);
  ASSERT_FALSE(space.ok()) << "accepted a space that names " << field;
  EXPECT_EQ(space.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(space.status().message()), StartsWith(field + ":"));
  EXPECT_THAT(std::string(space.status().message()), HasSubstr(words));
}

TEST(SearchSpaceTest, AcceptsPresetsWithTheirSizes) {
  EXPECT_EQ(ga::testing::PresetSpace("mnist_mlp").size(), 490u);
  EXPECT_EQ(ga::testing::PresetSpace("mnist_cnn").size(), 980u);
  EXPECT_EQ(ga::testing::PresetSpace("cifar10_mlp").size(), 1470u);
  EXPECT_EQ(ga::testing::PresetSpace("cifar10_cnn").size(), 980u);
  EXPECT_EQ(ga::testing::PresetSpace("fashion_mnist_mlp").size(), 490u);
  EXPECT_EQ(ga::testing::PresetSpace("fashion_mnist_cnn").size(), 980u);
  // Widths of 1 to 3 layers (4 + 16 + 64), then 3 x 4 x 7 x 4 x 6 x 4 x 3 x 2.
  EXPECT_EQ(ga::testing::PresetSpace("fashion_mnist_mlp_full").size(), 84u * 48384u);
  EXPECT_EQ(ga::testing::PresetSpace("fashion_mnist_cnn_full").size(),
            (3u + 9u + 27u) * 2u * 2u * 3u * 3u * 48384u);
  EXPECT_EQ(ga::testing::PresetSpace("cifar10_cnn_full").size(),
            (9u + 27u) * 2u * 2u * 3u * 3u * 48384u);
}

TEST(SearchSpaceTest, EveryPresetResolvesWithinTheMemoryLimit) {
  for (const ga::Preset& p : ga::Presets()) ga::testing::ResolvedPreset(p.name.c_str());
}

TEST(SearchSpaceTest, AlphabeticalOrderIsCrossoverOrder) {
  SearchSpace space = ga::testing::PresetSpace("cifar10_cnn");
  std::vector<std::string> names;
  for (int g : space.alphabetical_order()) names.push_back(space.gene(g).name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"activation", "nb_layers", "nb_neurons", "optimizer"}));
}

TEST(SearchSpaceTest, NumbersMustBeFiniteAndTheTrainersGenesKeepTheirTypes) {
  ExpectRejected({{"lr", {0.1, std::numeric_limits<double>::quiet_NaN()}}},
                 "space.genes[0].values[1]", "finite", GeneNames::kAny);
  EXPECT_TRUE(SearchSpace::Create({{"lr", {0.1, 0.01}}}, GeneNames::kAny).ok());
  auto genes = FourGenes();
  genes[1].values = {int64_t{1}, 2.5};
  ExpectRejected(genes, "space.genes[1].values[1]", "takes integers");
  genes = FourGenes();
  genes[2].values = {std::string("relu"), 0.5};
  ExpectRejected(genes, "space.genes[2].values[1]", "takes names");
}

TEST(SearchSpaceTest, TheLearningRateIsANumberInItsRange) {
  auto genes = FourGenes();
  genes.push_back({"learning_rate", {1e-4, 0.003, 10.0}});
  EXPECT_TRUE(SearchSpace::Create(genes, GeneNames::kTrainable).ok());
  genes.back().values = {0.001, 0.0};
  ExpectRejected(genes, "space.genes[4].values[1]", "learning_rate must be in (0, 10]");
  genes.back().values = {0.001, 11.0};
  ExpectRejected(genes, "space.genes[4].values[1]", "got 11");
  genes.back().values = {0.001, std::string("fast")};
  ExpectRejected(genes, "space.genes[4].values[1]", "takes numbers");
  genes.back() = {"momentum", {0.9, 0.99}};
  ExpectRejected(genes, "space.genes[4].name", "dense_units, augmentation)");
}

TEST(SearchSpaceTest, DropoutIsARateAndAnIntegerIsTakenAsItsNumber) {
  auto genes = FourGenes();
  genes.push_back({"dropout", {int64_t{0}, 0.25, 0.5}});
  auto space = SearchSpace::Create(genes, GeneNames::kTrainable);
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(std::get<double>(space->value(4, 0)), 0.0);
  genes.back().values = {int64_t{0}, 0.0};
  ExpectRejected(genes, "space.genes[4].values[1]", "duplicate value");
  genes.back().values = {0.5, 0.95};
  ExpectRejected(genes, "space.genes[4].values[1]", "dropout must be in [0, 0.9]");
}

TEST(SearchSpaceTest, RejectsNoGenes) { ExpectRejected({}, "space.genes", "at least one"); }

TEST(SearchSpaceTest, RejectsEmptyGene) {
  auto genes = FourGenes();
  genes[2].values.clear();
  ExpectRejected(genes, "space.genes[2].values", "no values");
}

TEST(SearchSpaceTest, RejectsGeneWithOneValue) {
  auto genes = FourGenes();
  genes[1].values = {int64_t{3}};
  ExpectRejected(genes, "space.genes[1].values", "one value");
}

TEST(SearchSpaceTest, RejectsDuplicateValue) {
  auto genes = FourGenes();
  genes[3].values.push_back(std::string("adam"));
  ExpectRejected(genes, "space.genes[3].values[2]", "duplicate value 'adam'");
}

TEST(SearchSpaceTest, RejectsDuplicateGene) {
  auto genes = FourGenes();
  genes.push_back(genes[0]);
  ExpectRejected(genes, "space.genes[4].name", "duplicate gene 'nb_neurons'");
}

TEST(SearchSpaceTest, RejectsUnknownGeneName) {
  auto genes = FourGenes();
  genes[0].name = "nb_neuron";
  ExpectRejected(genes, "space.genes[0].name", "unknown gene 'nb_neuron'");
}

TEST(SearchSpaceTest, RejectsUnknownActivationAndOptimizer) {
  auto genes = FourGenes();
  genes[2].values[1] = std::string("swish");
  ExpectRejected(genes, "space.genes[2].values[1]", "unknown activation 'swish'");
  genes = FourGenes();
  genes[3].values[0] = std::string("lamb");
  ExpectRejected(genes, "space.genes[3].values[0]", "unknown optimizer 'lamb'");
}

TEST(SearchSpaceTest, RejectsWrongTypesAndRanges) {
  auto genes = FourGenes();
  genes[0].values[0] = std::string("wide");
  ExpectRejected(genes, "space.genes[0].values[0]", "takes integers");
  genes = FourGenes();
  genes[1].values[0] = int64_t{0};
  ExpectRejected(genes, "space.genes[1].values[0]", "must be in [1, 64]");
  genes = FourGenes();
  genes[2].values[0] = int64_t{7};
  ExpectRejected(genes, "space.genes[2].values[0]", "takes names");
}

TEST(SearchSpaceTest, RejectsBeyondLimits) {
  std::vector<Gene> many;
  for (int g = 0; g <= kMaxGenes; ++g) {
    many.push_back({"g" + std::to_string(g), {int64_t{0}, int64_t{1}}});
  }
  ExpectRejected(many, "space.genes", "at most 32 genes", GeneNames::kAny);

  Gene wide{"g", {}};
  for (int v = 0; v <= kMaxValuesPerGene; ++v) wide.values.push_back(int64_t{v});
  ExpectRejected({wide}, "space.genes[0].values", "at most 256 values", GeneNames::kAny);

  Gene long_value{"g", {std::string(kMaxStringValueLength + 1, 'x'), std::string("y")}};
  ExpectRejected({long_value}, "space.genes[0].values[0]", "at most 64 characters",
                 GeneNames::kAny);

  Gene long_name{std::string(kMaxNameLength + 1, 'n'), {int64_t{0}, int64_t{1}}};
  ExpectRejected({long_name}, "space.genes[0].name", "not a gene name", GeneNames::kAny);

  Gene bad_name{"Has Space", {int64_t{0}, int64_t{1}}};
  ExpectRejected({bad_name}, "space.genes[0].name", "not a gene name", GeneNames::kAny);
}

TEST(SearchSpaceTest, AnyNamesAcceptsOtherGenes) {
  auto space = SearchSpace::Create({{"dropout", {std::string("0.1"), std::string("0.2")}},
                                    {"width", {int64_t{1}, int64_t{2}, int64_t{3}}}},
                                   GeneNames::kAny);
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->size(), 6u);
}

TEST(SearchSpaceTest, ProtoRoundTrip) {
  SearchSpace space = ga::testing::PresetSpace("cifar10_mlp");
  auto again = SearchSpace::FromProto(space.ToProto());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToProto().SerializeAsString(), space.ToProto().SerializeAsString());
  v1::GeneSpace unset = space.ToProto();
  unset.mutable_genes(1)->mutable_values(2)->Clear();
  EXPECT_THAT(std::string(SearchSpace::FromProto(unset).status().message()),
              StartsWith("space.genes[1].values[2]:"));
}

}  // namespace
}  // namespace deepevolve::genome
