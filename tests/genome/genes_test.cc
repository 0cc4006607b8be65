#include "genome/genes.h"

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "genome/genome.h"
#include "genome/network.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::genome {
namespace {

using ::testing::HasSubstr;

Gene Ints(const std::string& name, std::vector<int64_t> values) {
  Gene g{name, {}};
  for (int64_t v : values) g.values.emplace_back(v);
  return g;
}

Gene Names(const std::string& name, std::vector<std::string> values) {
  Gene g{name, {}};
  for (auto& v : values) g.values.emplace_back(v);
  return g;
}

Gene Numbers(const std::string& name, std::vector<double> values) {
  Gene g{name, {}};
  for (double v : values) g.values.emplace_back(v);
  return g;
}

std::string Rejection(std::vector<Gene> genes) {
  auto space = SearchSpace::Create(std::move(genes));
  EXPECT_FALSE(space.ok());
  EXPECT_EQ(space.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(space.status().message());
}

TEST(TrainerGenesTest, EveryGeneIsKnownAndAnUnknownOneListsThem) {
  for (const GeneInfo& info : TrainerGenes()) {
    if (info.name == "nb_neurons_<i>") continue;
    EXPECT_EQ(FindTrainerGene(info.name), &info) << info.name;
    EXPECT_FALSE(info.meaning.empty()) << info.name;
    EXPECT_FALSE(info.absent.empty()) << info.name;
  }
  int layer = 0;
  ASSERT_NE(FindTrainerGene("nb_neurons_3", &layer), nullptr);
  EXPECT_EQ(layer, 3);
  EXPECT_NE(FindTrainerGene("nb_neurons_64"), nullptr);
  for (const char* name : {"nb_neurons_0", "nb_neurons_65", "nb_neurons_03", "nb_neurons_",
                           "nb_neurons_x", "momentum"}) {
    EXPECT_EQ(FindTrainerGene(name), nullptr) << name;
  }
  const std::string message = Rejection({Ints("momentum", {1, 2})});
  EXPECT_THAT(message, HasSubstr("space.genes[0].name: unknown gene 'momentum'"));
  EXPECT_THAT(message, HasSubstr("known: nb_neurons, nb_neurons_<i>, nb_layers"));
  EXPECT_THAT(message, HasSubstr("augmentation)"));
}

TEST(TrainerGenesTest, ValuesAreCheckedAgainstTheRegistry) {
  EXPECT_THAT(Rejection({Ints("batch_size", {0, 64})}),
              HasSubstr("space.genes[0].values[0]: batch_size must be in [1, 8192], got 0"));
  EXPECT_THAT(Rejection({Numbers("weight_decay", {0.0, 0.5})}),
              HasSubstr("weight_decay must be in [0, 0.1], got 0.5"));
  EXPECT_THAT(Rejection({Ints("kernel_size", {3, 4})}),
              HasSubstr("kernel_size must be odd and in [1, 9], got 4"));
  EXPECT_THAT(Rejection({Names("lr_schedule", {"constant", "linear"})}),
              HasSubstr("unknown lr_schedule 'linear' (known: constant, cosine, step)"));
  EXPECT_THAT(Rejection({Names("pooling", {"max", "min"})}), HasSubstr("max, average"));
  EXPECT_THAT(Rejection({Names("augmentation", {"none", "rotate"})}),
              HasSubstr("none, flip, crop_flip"));
  EXPECT_THAT(Rejection({Ints("batch_norm", {0, 1})}),
              HasSubstr("gene 'batch_norm' takes names (false, true); got '0'"));
  EXPECT_THAT(Rejection({Names("dense_units", {"a", "b"})}),
              HasSubstr("dense_units takes integers"));
  // Integers given for numbers are those numbers.
  auto space = SearchSpace::Create({Ints("weight_decay", {0, 1}), Ints("nb_layers", {1, 2})});
  ASSERT_FALSE(space.ok());  // 1 is above 0.1
  auto decay = SearchSpace::Create({Numbers("weight_decay", {0, 1e-4})});
  ASSERT_TRUE(decay.ok()) << decay.status();
  EXPECT_EQ(decay->value(0, 0), GeneValue(0.0));
}

TEST(TrainerGenesTest, CnnGenesAreRefusedForAnMlp) {
  auto space = SearchSpace::Create({Ints("kernel_size", {3, 5}), Ints("nb_layers", {1, 2})});
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_TRUE(CheckGenesForNet(*space, v1::CNN).ok());
  absl::Status s = CheckGenesForNet(*space, v1::MLP);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("space.genes[0].name: gene 'kernel_size' shapes only CNNs"));
  EXPECT_FALSE(NetworkFor({{"kernel_size", int64_t{5}}}, v1::MLP, {784}, 10).ok());
}

TEST(NetworkTest, AbsentGenesKeepDeepEvolvesNetworks) {
  auto net = NetworkFor({{"nb_neurons", int64_t{128}},
                         {"nb_layers", int64_t{3}},
                         {"activation", std::string("elu")},
                         {"optimizer", std::string("sgd")}},
                        v1::CNN, {1, 28, 28}, 10);
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->widths, (std::vector<int64_t>{128, 128, 128}));
  EXPECT_EQ(net->dense_units, 128);
  EXPECT_EQ(net->kernel_size, 3);
  EXPECT_EQ(net->pooling, "max");
  EXPECT_FALSE(net->batch_norm);
  EXPECT_EQ(net->dropout, 0.2);
  EXPECT_EQ(net->weight_decay, 0);
  EXPECT_EQ(net->lr_schedule, "constant");
  EXPECT_EQ(net->augmentation, "none");
  EXPECT_FALSE(net->learning_rate.has_value());
  EXPECT_FALSE(net->batch_size.has_value());
  EXPECT_EQ(net->optimizer, "sgd");
  EXPECT_EQ(net->activation, "elu");
}

TEST(NetworkTest, LayersTakeTheirOwnWidthsAndTheCnnHeadTheLast) {
  auto mlp = NetworkFor({{"nb_neurons", int64_t{64}},
                         {"nb_layers", int64_t{3}},
                         {"nb_neurons_1", int64_t{256}},
                         {"nb_neurons_3", int64_t{32}},
                         {"nb_neurons_5", int64_t{999}}},  // inactive: no 5th layer
                        v1::MLP, {1, 28, 28}, 10);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  EXPECT_EQ(mlp->widths, (std::vector<int64_t>{256, 64, 32}));
  // 784-256-64-32-10.
  EXPECT_EQ(ParameterCount(*mlp), 784 * 256 + 256 + 256 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10);
  mlp->batch_norm = true;
  EXPECT_EQ(ParameterCount(*mlp),
            784 * 256 + 256 + 256 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10 + 2 * (256 + 64 + 32));

  auto cnn = NetworkFor({{"nb_layers", int64_t{2}},
                         {"nb_neurons_1", int64_t{16}},
                         {"nb_neurons_2", int64_t{32}},
                         {"kernel_size", int64_t{5}}},
                        v1::CNN, {1, 28, 28}, 10);
  ASSERT_TRUE(cnn.ok()) << cnn.status();
  EXPECT_EQ(cnn->dense_units, 32);
  // 28 -same-> 28 -pool-> 14 -valid 5x5-> 10 -pool-> 5.
  auto hw = ConvOutput(*cnn);
  ASSERT_TRUE(hw.ok());
  EXPECT_EQ(*hw, std::make_pair(int64_t{5}, int64_t{5}));
  EXPECT_EQ(ParameterCount(*cnn),
            (25 * 16 + 16) + (25 * 16 * 32 + 32) + (25 * 32 * 32 + 32) + (32 * 10 + 10));
  auto wide = NetworkFor({{"kernel_size", int64_t{9}}, {"nb_layers", int64_t{3}}}, v1::CNN,
                         {1, 28, 28}, 10);
  ASSERT_TRUE(wide.ok());
  EXPECT_THAT(std::string(ConvOutput(*wide).status().message()),
              HasSubstr("conv layer 3 gets 3x3 and needs at least 9x9"));
}

TEST(NetworkTest, AWorkerChecksWhatTheMasterSent) {
  absl::StatusOr<Network> net = NetworkFor({{"dropout", 1.5}}, v1::MLP, {784}, 10);
  EXPECT_EQ(net.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(net.status().message()), HasSubstr("dropout must be in [0, 0.9]"));
  net = NetworkFor({{"shape", std::string("x")}}, v1::MLP, {784}, 10);
  EXPECT_THAT(std::string(net.status().message()), HasSubstr("gene 'shape' is not one"));
}

// nb_layers [1, 2, 3] with widths for layers 1..3: 2 + 2x2 + 2x2x2 genomes (each also
// x2 activations), not the 2^3 x 3 x 2 the product counts.
SearchSpace LayerSpace() {
  auto space =
      SearchSpace::Create({Ints("nb_layers", {1, 2, 3}), Ints("nb_neurons_1", {64, 128}),
                           Ints("nb_neurons_2", {64, 128}), Ints("nb_neurons_3", {64, 128}),
                           Names("activation", {"relu", "elu"})});
  EXPECT_TRUE(space.ok()) << space.status();
  return *space;
}

TEST(InactiveGenesTest, AreLeftOutOfIdentityAndCountOnce) {
  const SearchSpace space = LayerSpace();
  EXPECT_EQ(space.size(), (2u + 4u + 8u) * 2u);
  EXPECT_EQ(space.layer(2), 2);
  EXPECT_EQ(space.layer(4), 0);
  // One layer: nb_neurons_2 and _3 change nothing.
  const Genome a{{0, 1, 0, 1, 0}}, b{{0, 1, 1, 0, 0}};
  EXPECT_FALSE(IsActive(space, a, 2));
  EXPECT_TRUE(IsActive(space, a, 1));
  EXPECT_EQ(Canonical(space, a), Canonical(space, b));
  EXPECT_EQ(Canonical(space, a), (Genome{{0, 1, 0, 0, 0}}));
  EXPECT_EQ(GenomeHash(space, a), GenomeHash(space, b));
  const NamedGenome named = ToNamedGenome(space, a);
  ASSERT_EQ(named.size(), 3u);
  EXPECT_EQ(named[1].first, "nb_neurons_1");
  EXPECT_EQ(DescribeGenome(space, a), "nb_layers=1 nb_neurons_1=128 activation=relu");
  // Read back without its inactive genes, the genome is the canonical one.
  absl::StatusOr<Genome> back = FromNamedGenome(space, named);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Canonical(space, a));
  // An active gene missing is still an error.
  NamedGenome missing = ToNamedGenome(space, Genome{{2, 0, 0, 1, 0}});
  missing.erase(missing.begin() + 3);
  EXPECT_THAT(std::string(FromNamedGenome(space, missing).status().message()),
              HasSubstr("'nb_neurons_3' has no value"));
  // With three layers every width counts.
  EXPECT_NE(GenomeHash(space, Genome{{2, 0, 0, 0, 0}}), GenomeHash(space, Genome{{2, 0, 0, 1, 0}}));
}

TEST(InactiveGenesTest, AWidthNoLayerCountReachesIsRefused) {
  EXPECT_THAT(Rejection({Ints("nb_layers", {1, 2}), Ints("nb_neurons_3", {8, 16})}),
              HasSubstr("space.genes[1].name: gene 'nb_neurons_3' never shapes a network: "
                        "nb_layers is at most 2"));
  EXPECT_THAT(Rejection({Ints("nb_neurons_2", {8, 16}), Ints("nb_neurons", {8, 16})}),
              HasSubstr("without nb_layers there is 1 layer"));
  // Without nb_layers a genome has one layer: nb_neurons_1 is its width.
  auto space = SearchSpace::Create({Ints("nb_neurons_1", {8, 16}), Ints("nb_neurons", {8, 16})});
  ASSERT_TRUE(space.ok()) << space.status();
  EXPECT_EQ(space->size(), 4u);
}

// README's table lists every gene of the registry, with its value when absent.
TEST(TrainerGenesTest, ReadmeDocumentsEveryGene) {
  std::ifstream in(std::string(DEEPEVOLVE_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const GeneInfo& info : TrainerGenes()) {
    const std::string row = info.name == "nb_neurons_<i>" ? "| `nb_neurons_1` … `nb_neurons_64` |"
                                                          : absl::StrCat("| `", info.name, "` |");
    EXPECT_THAT(readme, HasSubstr(row)) << info.name;
  }
}

}  // namespace
}  // namespace deepevolve::genome
