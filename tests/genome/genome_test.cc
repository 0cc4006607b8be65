#include "genome/genome.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/master/ga/test_util.h"
#include "tests/testing/status_matchers.h"

namespace deepevolve::genome {
namespace {

NamedGenome DeepEvolveGenome(int64_t neurons, const char* activation, int64_t layers,
                             const char* optimizer) {
  return {{"nb_neurons", neurons},
          {"nb_layers", layers},
          {"activation", std::string(activation)},
          {"optimizer", std::string(optimizer)}};
}

TEST(GenomeHashTest, MatchesDeepEvolveTestVectors) {
  EXPECT_EQ(IdentityString(DeepEvolveGenome(64, "relu", 2, "adam")), "64relu2adam");
  EXPECT_EQ(GenomeHash(DeepEvolveGenome(64, "relu", 2, "adam")),
            "53e7608376c791312050ef5ab4b95bf9");
  EXPECT_EQ(GenomeHash(DeepEvolveGenome(16, "relu", 1, "rmsprop")),
            "e82083405a9ffb972797a4855f186c0b");
  EXPECT_EQ(GenomeHash(DeepEvolveGenome(128, "hard_sigmoid", 5, "nadam")),
            "9160bb7f9a2c9f9770236b79a04af16b");
}

TEST(GenomeHashTest, IndependentOfAssignmentOrder) {
  NamedGenome a = DeepEvolveGenome(64, "relu", 2, "adam");
  std::reverse(a.begin(), a.end());
  EXPECT_EQ(GenomeHash(a), "53e7608376c791312050ef5ab4b95bf9");
}

TEST(GenomeHashTest, OtherSpacesUseAnUnambiguousEncoding) {
  // Concatenation would make these two collide ("ab" + "c" vs "a" + "bc").
  NamedGenome x = {{"p", std::string("ab")}, {"q", std::string("c")}};
  NamedGenome y = {{"p", std::string("a")}, {"q", std::string("bc")}};
  EXPECT_NE(IdentityString(x), IdentityString(y));
  EXPECT_NE(GenomeHash(x), GenomeHash(y));
  // An integer and a name that reads the same are different values.
  EXPECT_NE(GenomeHash({{"p", int64_t{1}}}), GenomeHash({{"p", std::string("1")}}));
  EXPECT_EQ(IdentityString({{"q", int64_t{3}}, {"p", std::string("ab")}}), "dv1;p=s2:ab;q=i:3;");
  // A fifth gene leaves the DeepEvolve form.
  NamedGenome five = DeepEvolveGenome(64, "relu", 2, "adam");
  five.emplace_back("dropout", int64_t{2});
  EXPECT_EQ(IdentityString(five).rfind("dv1;", 0), 0u);
}

// A number enters the identity as its shortest round-trip decimal: 0.001 written as
// 1e-3 or 0.0010 is one value; 0.1 + 0.2 is not 0.3; 1, 1.0 and "1" are three.
TEST(GenomeHashTest, NumbersHaveOneCanonicalText) {
  EXPECT_EQ(IdentityString({{"learning_rate", 1e-3}}), "dv1;learning_rate=f:0.001;");
  EXPECT_EQ(GeneValueToString(GeneValue(3e-5)), "3e-05");
  EXPECT_EQ(GeneValueToString(GeneValue(0.25)), "0.25");
  EXPECT_EQ(GenomeHash({{"p", 0.0010}}), GenomeHash({{"p", 1e-3}}));
  EXPECT_NE(GenomeHash({{"p", 0.1 + 0.2}}), GenomeHash({{"p", 0.3}}));
  EXPECT_NE(GenomeHash({{"p", 1.0}}), GenomeHash({{"p", int64_t{1}}}));
  EXPECT_NE(GenomeHash({{"p", 1.0}}), GenomeHash({{"p", std::string("1")}}));
  v1::GeneValue proto = GeneValueToProto(GeneValue(0.0003));
  EXPECT_EQ(proto.value_case(), v1::GeneValue::kFloatValue);
  EXPECT_EQ(std::get<double>(GeneValueFromProto(proto)), 0.0003);
}

TEST(GenomeTest, AssignmentRoundTripAndErrors) {
  SearchSpace space = ga::testing::PresetSpace("mnist_mlp");
  auto genome = FromNamedGenome(space, DeepEvolveGenome(128, "tanh", 3, "sgd"));
  ASSERT_TRUE(genome.ok()) << genome.status();
  EXPECT_EQ(DescribeGenome(space, *genome),
            "nb_neurons=128 nb_layers=3 activation=tanh optimizer=sgd");
  EXPECT_EQ(GenomeHash(space, *genome), GenomeHash(DeepEvolveGenome(128, "tanh", 3, "sgd")));

  auto bad = FromNamedGenome(space, DeepEvolveGenome(512, "tanh", 3, "sgd"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("nb_neurons"), std::string::npos);
  NamedGenome missing = DeepEvolveGenome(64, "tanh", 3, "sgd");
  missing.pop_back();
  EXPECT_NE(FromNamedGenome(space, missing).status().message().find("optimizer"),
            std::string::npos);
}

// An integer for a number gene is that number, as a spec file reads [0, 0.5]; a number
// for an integer gene is not its integer.
TEST(GenomeTest, AnIntegerForANumberGeneIsThatNumber) {
  SearchSpace space = ga::testing::PresetSpace("fashion_mnist_mlp_full");
  NamedGenome named =
      ToNamedGenome(space, Canonical(space, Genome{std::vector<int>(space.num_genes(), 0)}));
  for (auto& [name, value] : named) {
    if (name == "weight_decay") value = int64_t{0};  // the space's 0.0
  }
  auto genome = FromNamedGenome(space, named);
  ASSERT_TRUE(genome.ok()) << genome.status();
  EXPECT_EQ(ToNamedGenome(space, *genome),
            ToNamedGenome(space, Canonical(space, Genome{std::vector<int>(space.num_genes(), 0)})));
  for (auto& [name, value] : named) {
    if (name == "nb_layers") value = 1.0;
  }
  EXPECT_FALSE(FromNamedGenome(space, named).ok());
}

TEST(LedgerKeyTest, SameGenomeOnAnotherTaskIsAnotherEntry) {
  SearchSpace space = ga::testing::PresetSpace("fashion_mnist_mlp");
  Genome g = *FromNamedGenome(space, DeepEvolveGenome(64, "relu", 2, "adam"));
  v1::TaskSpec task = ga::testing::ResolvedPreset("fashion_mnist_mlp").task();
  const LedgerKey base = MakeLedgerKey(space, g, task);
  EXPECT_EQ(base.genome_hash, "53e7608376c791312050ef5ab4b95bf9");
  EXPECT_EQ(base, MakeLedgerKey(space, g, task));

  auto differs = [&](auto change) {
    v1::TaskSpec other = task;
    change(&other);
    return !(MakeLedgerKey(space, g, other) == base);
  };
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_dataset("mnist"); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_net(v1::CNN); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_epochs(5); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_batch_size(32); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_validation(v1::TEST_SET); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_train_limit(1000); }));
  EXPECT_TRUE(differs([](v1::TaskSpec* t) { t->set_validation_fraction(0.2); }));
}

TEST(ParseTrainerFlagTest, TakesNameVersionAndCommand) {
  auto p = ParseTrainerFlag("fmnist-cnn@2=python3 /opt/train.py --fast");
  ASSERT_THAT(p, ::deepevolve::testing::IsOk());
  EXPECT_EQ(p->name, "fmnist-cnn@2");
  EXPECT_EQ(p->command, "python3 /opt/train.py --fast");
  EXPECT_EQ(ParseTrainerFlag("toy=./a=b")->command, "./a=b");
  EXPECT_THAT(ParseTrainerFlag("toy"),
              ::deepevolve::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("NAME[@VERSION]=COMMAND")));
  EXPECT_THAT(ParseTrainerFlag("Toy=x"),
              ::deepevolve::testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseTrainerFlag("toy@=x"),
              ::deepevolve::testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseTrainerFlag("toy=  "),
              ::deepevolve::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("no command")));
}

}  // namespace
}  // namespace deepevolve::genome
