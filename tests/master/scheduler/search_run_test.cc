#include "master/scheduler/search_run.h"

#include "absl/random/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/ga/guided.h"
#include "master/ga/spec.h"
#include "tests/testing/objectives.h"
#include "tests/testing/status_matchers.h"

namespace deepevolve::master {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

// Search 3, running `spec` (resolved).
v1::SearchSummary Summary(const v1::SearchSpec& spec) {
  auto resolved = ga::ResolveSearchSpec(spec);
  EXPECT_THAT(resolved, IsOk());
  v1::SearchSummary summary;
  summary.set_search_id(3);
  summary.set_state(v1::RUNNING);
  *summary.mutable_spec() = *resolved;
  return summary;
}

v1::SearchSummary Summary(int population = 4) {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp");
  spec.mutable_generational()->set_population(population);
  spec.mutable_generational()->set_generations(2);
  spec.set_seed(11);
  return Summary(spec);
}

// Hands out the strategy's next genome as a new trial.
v1::Trial& Next(SearchRun& run) {
  auto next = run.strategy().Next(1, run.rng());
  EXPECT_THAT(next, IsOk());
  EXPECT_EQ(next->size(), 1u);
  return run.AddTrial(next->front());
}

TEST(SearchRunTest, ANewTrialCarriesItsGenomeSeedAndDescription) {
  auto run = SearchRun::Create(Summary());
  ASSERT_THAT(run, IsOk());
  v1::Trial& t = Next(**run);
  EXPECT_EQ(t.search_id(), 3);
  EXPECT_EQ(t.genome().values_size(), 4);
  EXPECT_EQ(t.genome().hash().size(), 32u);
  EXPECT_NE(t.seed(), 0u);
  EXPECT_THAT(t.description(), HasSubstr("nb_neurons="));
  EXPECT_EQ(&(*run)->trial(t.genome().id()), &t);
}

TEST(SearchRunTest, TheSummaryCountsTrialsByStateAndNamesTheBest) {
  auto created = SearchRun::Create(Summary());
  ASSERT_THAT(created, IsOk());
  SearchRun& run = **created;
  v1::Trial& a = Next(run);
  v1::Trial& b = Next(run);
  v1::Trial& c = Next(run);
  run.SetState(a, v1::LEASED);
  b.set_accuracy(0.8);
  run.SetState(b, v1::DONE);
  c.set_accuracy(0.9);
  run.SetState(c, v1::CACHED);
  v1::SearchSummary s = run.Summarize();
  EXPECT_EQ(s.trials_running(), 1);
  EXPECT_EQ(s.trials_done(), 2);
  EXPECT_EQ(s.ledger_hits(), 1);
  EXPECT_EQ(s.best().genome().id(), c.genome().id());
  EXPECT_EQ(run.best_genome_id(), c.genome().id());
  // A failed genome is never the best.
  run.SetState(a, v1::TRIAL_FAILED);
  s = run.Summarize();
  EXPECT_EQ(s.failed(), 1);
  EXPECT_EQ(s.trials_done(), 3);
  EXPECT_EQ(s.best().genome().id(), c.genome().id());
}

TEST(SearchRunTest, RequeuedGenomesGoFirstAndEndingAbandonsTheQueue) {
  auto created = SearchRun::Create(Summary());
  ASSERT_THAT(created, IsOk());
  SearchRun& run = **created;
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    v1::Trial& t = Next(run);
    run.SetState(t, v1::QUEUED);
    run.Enqueue(t.genome().id());
    ids.push_back(t.genome().id());
  }
  EXPECT_EQ(run.PopQueued(), ids[0]);
  run.EnqueueFront(ids[0]);
  EXPECT_EQ(run.PopQueued(), ids[0]);
  EXPECT_EQ(run.queued(), 2u);
  std::vector<v1::Trial*> abandoned = run.End(v1::FAILED, 1234, "strategy broke");
  ASSERT_EQ(abandoned.size(), 2u);
  for (v1::Trial* t : abandoned) EXPECT_EQ(t->state(), v1::ABANDONED);
  EXPECT_EQ(run.queued(), 0u);
  EXPECT_FALSE(run.running());
  EXPECT_EQ(run.stored_summary().error(), "strategy broke");
  EXPECT_EQ(run.stored_summary().finished_unix_ms(), 1234);
  EXPECT_EQ(run.PopQueued(), std::nullopt);
}

TEST(SearchRunTest, ReplayingTheLogRebuildsTheStrategyAndADivergenceIsDataLoss) {
  // The log of a run: two genomes handed out, one reported.
  auto original = SearchRun::Create(Summary());
  ASSERT_THAT(original, IsOk());
  std::vector<store::StrategyOp> ops;
  const int64_t first = Next(**original).genome().id();
  ops.push_back({(*original)->NextOpSeq(), store::StrategyOp::kNext, first});
  const int64_t second = Next(**original).genome().id();
  ops.push_back({(*original)->NextOpSeq(), store::StrategyOp::kNext, second});
  ASSERT_THAT((*original)->strategy().Report(first, ga::Fitness{true, 0.7}), IsOk());
  ops.push_back({(*original)->NextOpSeq(), store::StrategyOp::kReport, first, true, 0.7});

  auto replayed = SearchRun::Create(Summary());
  ASSERT_THAT(replayed, IsOk());
  ASSERT_THAT((*replayed)->Replay(ops), IsOk());
  // Both hand out the same genome next, and number operations on from the log.
  auto a = (*original)->strategy().Next(1, (*original)->rng());
  auto b = (*replayed)->strategy().Next(1, (*replayed)->rng());
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->front().id, b->front().id);
  EXPECT_EQ((*replayed)->NextOpSeq(), (*original)->NextOpSeq());

  ops[1].genome_id = 999;
  auto diverged = SearchRun::Create(Summary());
  ASSERT_THAT(diverged, IsOk());
  EXPECT_THAT((*diverged)->Replay(ops),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("search 3")));
}

// Audit F9: a replay that hands out other genomes under the same ids (a strategy
// changed by an upgrade, here another seed) is a divergence, not a silent success.
TEST(SearchRunTest, AReplayThatYieldsOtherGenomesUnderTheSameIdsIsDataLoss) {
  auto original = SearchRun::Create(Summary());
  ASSERT_THAT(original, IsOk());
  std::vector<store::StrategyOp> ops;
  for (int i = 0; i < 3; ++i) {
    const int64_t id = Next(**original).genome().id();
    ops.push_back({(*original)->NextOpSeq(), store::StrategyOp::kNext, id});
  }
  std::vector<v1::Trial> trials;
  for (const auto& [id, t] : (*original)->trials()) trials.push_back(t);

  auto same = SearchRun::Create(Summary());
  ASSERT_THAT(same, IsOk());
  (*same)->LoadTrials(trials);
  EXPECT_THAT((*same)->Replay(ops), IsOk());

  v1::SearchSummary changed = Summary();
  changed.mutable_spec()->set_seed(12);
  auto other = SearchRun::Create(changed);
  ASSERT_THAT(other, IsOk());
  (*other)->LoadTrials(trials);
  EXPECT_THAT((*other)->Replay(ops),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no longer the one it trained")));
}

// Audit F3: a guided search's replay takes back the stored genomes (Adopt) instead of
// breeding and scoring again, and leaves the strategy and the random numbers as the
// uninterrupted run has them: both hand out the same genomes from there on. With
// several objectives, the replayed results are the trials' metrics again.
void ExpectAGuidedReplayGoesOnAsBefore(bool objectives) {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp");
  spec.mutable_guided()->set_population(6);
  spec.mutable_guided()->set_trials(60);
  spec.mutable_guided()->set_warmup(5);
  spec.set_seed(5);
  if (objectives) ::deepevolve::testing::AccuracyAgainstParams(spec);
  const v1::SearchSummary summary = Summary(spec);

  auto original = SearchRun::Create(summary);
  ASSERT_THAT(original, IsOk());
  std::vector<store::StrategyOp> ops;
  std::vector<int64_t> in_flight;
  auto step = [&](SearchRun& run, std::vector<store::StrategyOp>* log) {
    v1::Trial& t = Next(run);
    // A made-up result from the hash: accuracy from its first digits, params from the next.
    const std::string& hash = t.genome().hash();
    t.set_accuracy(static_cast<double>(std::stoul(hash.substr(0, 4), nullptr, 16)) / 0xffff);
    (*t.mutable_metrics())["params"] =
        static_cast<double>(std::stoul(hash.substr(4, 4), nullptr, 16));
    if (log != nullptr)
      log->push_back({run.NextOpSeq(), store::StrategyOp::kNext, t.genome().id()});
    in_flight.push_back(t.genome().id());
    if (in_flight.size() < 3) return hash;
    // Reported two behind, so that genomes are pending across the replay.
    const int64_t id = in_flight.front();
    in_flight.erase(in_flight.begin());
    const double accuracy = run.trial(id).accuracy();
    EXPECT_THAT(run.strategy().Report(id, run.FitnessOf(run.trial(id), true, accuracy, false)),
                IsOk());
    if (log != nullptr)
      log->push_back({run.NextOpSeq(), store::StrategyOp::kReport, id, true, accuracy});
    return hash;
  };
  for (int i = 0; i < 30; ++i) step(**original, &ops);
  std::vector<v1::Trial> trials;
  for (const auto& [id, t] : (*original)->trials()) trials.push_back(t);

  auto replayed = SearchRun::Create(summary);
  ASSERT_THAT(replayed, IsOk());
  (*replayed)->LoadTrials(trials);
  ASSERT_THAT((*replayed)->Replay(ops), IsOk());
  auto* guided = dynamic_cast<ga::GuidedStrategy*>(&(*replayed)->strategy());
  ASSERT_NE(guided, nullptr);
  EXPECT_EQ(guided->guided_count(), 0) << "the replay ran the model";
  for (int i = 0; i < 20; ++i) {
    std::vector<int64_t> saved = in_flight;
    const std::string a = step(**original, nullptr);
    in_flight = saved;
    const std::string b = step(**replayed, nullptr);
    EXPECT_EQ(a, b) << "genome " << 31 + i;
  }
  EXPECT_GT(guided->guided_count(), 0);

  // A stored genome that is not what its hash says is a divergence.
  trials[0].mutable_genome()->set_hash(std::string(32, '0'));
  auto corrupt = SearchRun::Create(summary);
  ASSERT_THAT(corrupt, IsOk());
  (*corrupt)->LoadTrials(trials);
  EXPECT_THAT((*corrupt)->Replay(ops),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("are not the genome it trained")));
}

TEST(SearchRunTest, AGuidedReplayAdoptsTheStoredGenomesAndGoesOnAsBefore) {
  ExpectAGuidedReplayGoesOnAsBefore(false);
}

TEST(SearchRunTest, AGuidedReplayWithSeveralObjectivesGoesOnAsBefore) {
  ExpectAGuidedReplayGoesOnAsBefore(true);
}

TEST(SearchRunTest, AnInvalidSpaceIsRefused) {
  v1::SearchSummary summary = Summary();
  summary.mutable_spec()->mutable_space()->clear_genes();
  EXPECT_THAT(SearchRun::Create(summary),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace deepevolve::master
