#include "cli/retrain.h"

#include <cmath>
#include <random>

#include "genome/genome.h"
#include "genome/space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/ga/operators.h"
#include "master/ga/spec.h"

namespace deepevolve::cli {
namespace {

using ::testing::HasSubstr;

v1::SearchSpec Search() {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp_full");
  spec.set_name("mlp");
  spec.mutable_steady_state()->set_trials(24);
  spec.set_seed(7);
  return *ga::ResolveSearchSpec(spec);
}

nlohmann::json Entry(const char* hash, const char* status, double accuracy, double test) {
  nlohmann::json j = {{"hash", hash}, {"status", status}, {"genes", nlohmann::json::object()}};
  if (std::string(status) == "ok") {
    j["accuracy"] = accuracy;
    j["test_accuracy"] = test;
  }
  return j;
}

// genomes.json's entry for `genome` of the search's space, as local writes it.
nlohmann::json EntryFor(const genome::SearchSpace& space, const genome::Genome& genome) {
  nlohmann::json genes = nlohmann::json::object();
  for (const auto& [name, value] : genome::ToNamedGenome(space, genome)) {
    std::visit([&, &name = name](const auto& v) { genes[name] = v; }, value);
  }
  return {{"hash", genome::GenomeHash(space, genome)},
          {"status", "ok"},
          {"accuracy", 0.9},
          {"epochs_run", 4},
          {"genes", genes}};
}

TEST(PickGenomeTest, TheBestByValidationNotByTest) {
  nlohmann::json genomes = {Entry("aa11", "ok", 0.85, 0.99), Entry("bb22", "ok", 0.89, 0.80),
                            Entry("cc33", "failed", 0, 0), Entry("dd44", "ok", 0.87, 0.88)};
  auto pick = PickGenome(genomes, "");
  ASSERT_TRUE(pick.ok()) << pick.status();
  EXPECT_EQ((*pick)["hash"], "bb22");
}

TEST(PickGenomeTest, ByHashPrefix) {
  nlohmann::json genomes = {Entry("aa11", "ok", 0.85, 0.9), Entry("ab22", "ok", 0.89, 0.8),
                            Entry("ab22", "ok", 0.89, 0.8)};
  EXPECT_EQ((*PickGenome(genomes, "aa"))["hash"], "aa11");
  // The same genome twice (a ledger hit) is one match.
  EXPECT_EQ((*PickGenome(genomes, "ab2"))["hash"], "ab22");
  auto ambiguous = PickGenome(genomes, "a");
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("starts 2 genomes"));
  EXPECT_EQ(PickGenome(genomes, "ff").status().code(), absl::StatusCode::kNotFound);
}

TEST(PickGenomeTest, NothingTrainedIsNotFound) {
  nlohmann::json genomes = {Entry("aa11", "failed", 0, 0), Entry("bb22", "abandoned", 0, 0)};
  auto pick = PickGenome(genomes, "");
  EXPECT_EQ(pick.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(pick.status().message(), HasSubstr("no trained genome"));
}

TEST(RetrainSpecTest, AOneGenomeGridOfTheChosenGenomeKeepingItsHash) {
  const v1::SearchSpec search = Search();
  auto space = genome::SearchSpace::FromProto(search.space());
  ASSERT_TRUE(space.ok());
  // A genome with every gene away from its first value where it is active.
  std::mt19937_64 rng(3);
  genome::Genome chosen = ga::RandomGenome(*space, rng);
  for (int tries = 0; tries < 100 && chosen.choice[space->FindGene("nb_layers").value()] == 0;
       ++tries) {
    chosen = ga::RandomGenome(*space, rng);
  }
  const nlohmann::json entry = EntryFor(*space, chosen);

  auto spec = RetrainSpec(search, entry, 30, 5);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->has_grid());
  EXPECT_EQ(spec->grid().trials(), 1);
  EXPECT_EQ(spec->task().epochs(), 30);
  EXPECT_EQ(spec->task().early_stop_patience(), 5);
  EXPECT_EQ(spec->task().early_stop_min_delta(), 0);
  EXPECT_DOUBLE_EQ(RetrainSpec(search, entry, 30, 5, -1, 0.01)->task().early_stop_min_delta(),
                   0.01);
  EXPECT_TRUE(spec->task().restore_best_weights());
  EXPECT_EQ(spec->task().dataset(), search.task().dataset());
  EXPECT_EQ(spec->seed(), search.seed());
  EXPECT_EQ(spec->task().train_limit(), search.task().train_limit());
  v1::SearchSpec screened = search;
  screened.mutable_task()->set_train_limit(5000);
  EXPECT_EQ(RetrainSpec(screened, entry, 30, 5, 0)->task().train_limit(), 0);
  EXPECT_EQ(RetrainSpec(screened, entry, 30, 5)->task().train_limit(), 5000);
  EXPECT_THAT(spec->name(), HasSubstr("retrain "));

  auto resolved = ga::ResolveSearchSpec(*spec);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  auto retrain_space = genome::SearchSpace::FromProto(resolved->space());
  ASSERT_TRUE(retrain_space.ok());
  EXPECT_EQ(retrain_space->size(), space->size());
  const genome::Genome first = ga::GridGenome(*retrain_space, 0);
  EXPECT_EQ(genome::GenomeHash(*retrain_space, first), entry["hash"]);
  EXPECT_EQ(genome::DescribeGenome(*retrain_space, first), genome::DescribeGenome(*space, chosen));
}

// Audit F20: the search's pruner does not come along (a median search could not be
// retrained for one epoch), and a wrongly typed field is read as missing, not thrown.
TEST(RetrainSpecTest, ASearchsPrunerStaysBehindAndBadFieldsAreMissing) {
  v1::SearchSpec search = Search();
  search.mutable_pruner()->mutable_median()->set_warmup_epochs(2);
  ASSERT_TRUE(ga::ResolveSearchSpec(search).ok());
  auto space = genome::SearchSpace::FromProto(search.space());
  std::mt19937_64 rng(1);
  const nlohmann::json entry = EntryFor(*space, ga::RandomGenome(*space, rng));
  auto spec = RetrainSpec(search, entry, /*epochs=*/1, /*patience=*/2, -1, 0);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->has_pruner());
  EXPECT_TRUE(ga::ResolveSearchSpec(*spec).ok());

  nlohmann::json odd = entry;
  odd["status"] = 1;
  odd["epochs_run"] = "four";
  EXPECT_THAT(PickGenome(nlohmann::json::array({odd}), "").status().message(),
              HasSubstr("no trained genome"));
  odd["hash"] = 7;
  EXPECT_FALSE(RetrainSpec(search, odd, 1, 2, -1, 0).ok());
}

TEST(RetrainSpecTest, AGenomeOfAnotherSpaceOrHashIsRefused) {
  const v1::SearchSpec search = Search();
  auto space = genome::SearchSpace::FromProto(search.space());
  std::mt19937_64 rng(4);
  nlohmann::json entry = EntryFor(*space, ga::RandomGenome(*space, rng));

  nlohmann::json wrong_hash = entry;
  wrong_hash["hash"] = "0123456789abcdef0123456789abcdef";
  EXPECT_THAT(RetrainSpec(search, wrong_hash, 30, 5).status().message(),
              HasSubstr("does not belong"));

  nlohmann::json unknown = entry;
  unknown["genes"]["activation"] = "not_a_value";
  EXPECT_THAT(RetrainSpec(search, unknown, 30, 5).status().message(),
              HasSubstr("not of the search's space"));

  EXPECT_THAT(RetrainSpec(search, entry, 0, 5).status().message(), HasSubstr("--epochs"));
  EXPECT_THAT(RetrainSpec(search, entry, 30, 0).status().message(), HasSubstr("--patience"));
  EXPECT_THAT(RetrainSpec(search, entry, 30, 5, -2).status().message(), HasSubstr("--train-limit"));
  EXPECT_THAT(RetrainSpec(search, entry, 30, 5, -1, std::nan("")).status().message(),
              HasSubstr("--min-delta"));
}

}  // namespace
}  // namespace deepevolve::cli
