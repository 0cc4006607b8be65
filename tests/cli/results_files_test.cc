#include "cli/results_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "genome/gene_json.h"
#include "gtest/gtest.h"
#include "master/ga/sim.h"
#include "tests/master/ga/test_util.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::cli {
namespace {

v1::GeneValue Int(int64_t v) {
  v1::GeneValue g;
  g.set_int_value(v);
  return g;
}

v1::GeneValue Name(const char* v) {
  v1::GeneValue g;
  g.set_string_value(v);
  return g;
}

// genomes.csv is read back by column name as `sim` reads tables, and genomes.json as
// `retrain` reads it: what local writes is what they read.
TEST(ResultsFilesTest, WhatIsWrittenReadsBackByName) {
  const genome::SearchSpace space = ga::testing::PresetSpace("fashion_mnist_mlp");
  std::vector<v1::Trial> trials(3);
  for (int i = 0; i < 3; ++i) {
    v1::Trial& t = trials[i];
    v1::Genome* g = t.mutable_genome();
    g->set_id(i + 1);
    g->set_hash(std::string(32, static_cast<char>('a' + i)));
    for (int k = 0; k < space.num_genes(); ++k) {
      const genome::GeneValue& v = space.value(k, i % space.num_values(k));
      *g->add_values() = genome::GeneValueToProto(v);
    }
    t.set_accuracy(0.5 + 0.1 * i);
    t.set_test_accuracy(0.4 + 0.1 * i);
    t.set_epochs_run(2);
    (*t.mutable_metrics())["params"] = 1000 * (i + 1);
  }
  (*trials[0].mutable_metrics())["latency_ms"] = 0.25;
  trials[0].set_state(v1::DONE);
  trials[1].set_state(v1::PRUNED);
  trials[1].set_pruned_at_epoch(1);
  trials[2].set_state(v1::TRIAL_FAILED);
  trials[2].set_error("loss, is NaN");  // a comma: quoted in the CSV
  ::deepevolve::testing::TempDir dir;
  WriteResults(space, trials, {trials[1], trials[0]}, dir.path().string());

  std::ifstream csv(dir.File("genomes.csv"));
  std::stringstream text;
  text << csv.rdbuf();
  absl::StatusOr<ga::FitnessTable> table = ga::ParseFitnessTable(text.str(), "genomes.csv");
  ASSERT_TRUE(table.ok()) << table.status();
  // The metrics' columns are results, not genes.
  EXPECT_EQ(table->space.num_genes(), space.num_genes());
  EXPECT_EQ(table->fitness.size(), 3u);
  std::string header;
  std::getline(text.seekg(0), header);
  EXPECT_TRUE(absl::EndsWith(header, ",curve,latency_ms,params")) << header;

  absl::StatusOr<nlohmann::json> json = ReadGenomesJson(dir.path().string());
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(json->size(), 3u);
  EXPECT_EQ((*json)[0]["status"], "ok");
  EXPECT_EQ((*json)[1]["status"], "pruned");
  EXPECT_EQ((*json)[1]["pruned_at_epoch"], 1);
  EXPECT_EQ((*json)[2]["error"], "loss, is NaN");
  // The leaderboard's order, as given; a genome not on it has no rank.
  EXPECT_EQ((*json)[1]["rank"], 1);
  EXPECT_EQ((*json)[0]["rank"], 2);
  EXPECT_FALSE((*json)[2].contains("rank"));
  EXPECT_EQ((*json)[0]["metrics"], (nlohmann::json{{"latency_ms", 0.25}, {"params", 1000}}));
  EXPECT_EQ((*json)[2]["metrics"]["params"], 3000);
  for (size_t i = 0; i < 3; ++i) {
    absl::StatusOr<genome::NamedGenome> named = genome::NamedGenomeFromJson((*json)[i]["genes"]);
    ASSERT_TRUE(named.ok()) << named.status();
    absl::StatusOr<genome::Genome> g = genome::FromNamedGenome(space, *named);
    ASSERT_TRUE(g.ok()) << g.status();
    genome::Genome written;
    for (int k = 0; k < space.num_genes(); ++k) {
      written.choice.push_back(static_cast<int>(i) % space.num_values(k));
    }
    EXPECT_EQ(*g, genome::Canonical(space, written));
  }
  EXPECT_EQ(ReadGenomesJson(dir.File("nowhere")).status().code(), absl::StatusCode::kNotFound);
}

// `deepevolve import` reads the finished trials of either file alike: the pruned and
// failed rows are skipped, the genes come by name, the metrics with them.
TEST(ResultsFilesTest, FinishedTrialsReadAlikeFromBothFiles) {
  const genome::SearchSpace space = ga::testing::PresetSpace("fashion_mnist_mlp");
  std::vector<v1::Trial> trials(3);
  for (int i = 0; i < 3; ++i) {
    v1::Trial& t = trials[i];
    t.mutable_genome()->set_id(i + 1);
    for (int k = 0; k < space.num_genes(); ++k) {
      *t.mutable_genome()->add_values() =
          genome::GeneValueToProto(space.value(k, (i + 1) % space.num_values(k)));
    }
    t.set_accuracy(0.8 + 0.01 * i);
    t.set_test_accuracy(0.7);
    t.set_epochs_run(3);
    t.set_train_seconds(2.5);
    (*t.mutable_metrics())["params"] = 1234;
  }
  trials[0].set_state(v1::DONE);
  trials[1].set_state(v1::PRUNED);
  trials[2].set_state(v1::TRIAL_FAILED);
  trials[2].set_error("nan");
  ::deepevolve::testing::TempDir dir;
  WriteResults(space, trials, {}, dir.path().string());
  for (const char* file : {"genomes.json", "genomes.csv"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<FinishedTrials> read = ReadFinishedTrials(dir.File(file), space);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->skipped, 2);
    ASSERT_EQ(read->trials.size(), 1u);
    const v1::ImportedTrial& t = read->trials[0];
    EXPECT_DOUBLE_EQ(t.accuracy(), 0.8);
    EXPECT_DOUBLE_EQ(t.test_accuracy(), 0.7);
    EXPECT_EQ(t.epochs_run(), 3);
    EXPECT_DOUBLE_EQ(t.train_seconds(), 2.5);
    EXPECT_EQ(t.metrics().at("params"), 1234);
    ASSERT_EQ(t.genome().genes_size(), space.num_genes());
    for (int k = 0; k < space.num_genes(); ++k) {
      EXPECT_EQ(
          t.genome().genes().at(space.gene(k).name).SerializeAsString(),
          genome::GeneValueToProto(space.value(k, 1 % space.num_values(k))).SerializeAsString())
          << space.gene(k).name;
    }
  }
  EXPECT_EQ(ReadFinishedTrials(dir.File("none.json"), space).status().code(),
            absl::StatusCode::kNotFound);
  std::ofstream(dir.File("bad.csv")) << "nb_neurons,accuracy\n\"64,0.5\n";
  EXPECT_EQ(ReadFinishedTrials(dir.File("bad.csv"), space).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GeneJsonTest, ValuesRoundTripAndOthersAreRefusedByName) {
  const genome::NamedGenome named = {{"a", int64_t{3}}, {"b", 0.001}, {"c", std::string("relu")}};
  const nlohmann::json j = genome::NamedGenomeToJson(named);
  EXPECT_EQ(j.dump(), R"({"a":3,"b":0.001,"c":"relu"})");
  absl::StatusOr<genome::NamedGenome> back = genome::NamedGenomeFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, named);
  EXPECT_EQ(genome::GeneValueToJson(Int(4)), 4);
  EXPECT_EQ(genome::GeneValueToJson(Name("tanh")), "tanh");
  EXPECT_TRUE(genome::GeneValueToJson(v1::GeneValue()).is_null());
  absl::StatusOr<genome::NamedGenome> bad = genome::NamedGenomeFromJson({{"a", {1, 2}}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("gene 'a'"), std::string::npos);
  EXPECT_FALSE(genome::NamedGenomeFromJson(nlohmann::json::array()).ok());
}

}  // namespace
}  // namespace deepevolve::cli
