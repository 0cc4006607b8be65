#include "master/ga/pbt.h"

#include <map>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace deepevolve::ga {
namespace {

genome::SearchSpace Space() {
  auto space = genome::SearchSpace::Create({
      {"nb_neurons", {int64_t{16}, int64_t{32}, int64_t{64}, int64_t{128}}},
      {"learning_rate", {0.0001, 0.0003, 0.001, 0.003, 0.01}},
      {"dropout", {0.0, 0.1, 0.2, 0.3, 0.5}},
  });
  EXPECT_TRUE(space.ok()) << space.status();
  return *space;
}

PbtOptions Options() {
  PbtOptions o;
  o.population = 4;
  o.ready_epochs = 2;
  o.epochs = 6;
  o.quantile = 0.25;
  o.resample_probability = 0.25;
  return o;
}

std::vector<Candidate> Round(PbtStrategy& s, std::mt19937_64& rng) {
  auto next = s.Next(100, rng);
  EXPECT_TRUE(next.ok()) << next.status();
  return next.ok() ? *next : std::vector<Candidate>{};
}

// Scripted accuracies, by member.
void ReportRound(PbtStrategy& s, const std::vector<Candidate>& round,
                 const std::map<int, Fitness>& by_member) {
  for (const Candidate& c : round) {
    ASSERT_TRUE(s.Report(c.id, by_member.at(c.round->member)).ok());
  }
}

TEST(PbtTest, MembersTrainInRoundsAndTheWorstCopiesTheBest) {
  PbtStrategy s(Space(), Options());
  EXPECT_EQ(s.rounds(), 3);
  EXPECT_EQ(s.PlannedTrials(), 12);
  std::mt19937_64 rng(7);
  const std::vector<Candidate> first = Round(s, rng);
  ASSERT_EQ(first.size(), 4u);
  std::set<std::vector<int>> distinct;
  for (int m = 1; m <= 4; ++m) {
    const Candidate& c = first[m - 1];
    EXPECT_EQ(c.id, m);
    EXPECT_EQ(c.round, (Candidate::Round{m, 0, 2}));
    EXPECT_EQ(c.parents[0], 0);
    EXPECT_EQ(c.generation, 1);
    distinct.insert(c.genome.choice);
  }
  EXPECT_EQ(distinct.size(), 4u);
  // A barrier: nothing more until every member's round is in.
  ASSERT_TRUE(s.Report(1, {true, 0.9}).ok());
  EXPECT_TRUE(Round(s, rng).empty());
  ASSERT_TRUE(s.Report(2, {true, 0.5}).ok());
  ASSERT_TRUE(s.Report(3, {true, 0.7}).ok());
  ASSERT_TRUE(s.Report(4, {true, 0.1}).ok());
  EXPECT_EQ(s.Report(4, {true, 0.1}).code(), absl::StatusCode::kFailedPrecondition);

  const std::vector<Candidate> second = Round(s, rng);
  ASSERT_EQ(second.size(), 4u);
  EXPECT_EQ(s.generation(), 2);
  for (int m = 1; m <= 3; ++m) {
    // The top three go on from their own checkpoints under their own genes.
    const Candidate& c = second[m - 1];
    EXPECT_EQ(c.round, (Candidate::Round{m, 2, 4}));
    EXPECT_EQ(c.parents[0], first[m - 1].id);
    EXPECT_EQ(c.genome, first[m - 1].genome);
  }
  // The worst (member 4) copies the best (member 1): its checkpoint and its network,
  // under explored training genes.
  const Candidate& copied = second[3];
  EXPECT_EQ(copied.round, (Candidate::Round{4, 2, 4}));
  EXPECT_EQ(copied.parents[0], 1);
  EXPECT_EQ(copied.genome.choice[0], first[0].genome.choice[0]);
  EXPECT_NE(copied.genome, first[0].genome);  // not member 1's own schedule

  ReportRound(s, second, {{1, {true, 0.9}}, {2, {true, 0.8}}, {3, {true, 0.7}}, {4, {true, 0.6}}});
  const std::vector<Candidate> last = Round(s, rng);
  ASSERT_EQ(last.size(), 4u);
  for (const Candidate& c : last) EXPECT_EQ(c.round->stop_epoch, 0);  // the task's end
  EXPECT_FALSE(s.Done());
  ReportRound(s, last, {{1, {true, 0.9}}, {2, {true, 0.8}}, {3, {true, 0.7}}, {4, {true, 0.6}}});
  EXPECT_TRUE(s.Done());
  EXPECT_TRUE(Round(s, rng).empty());
}

TEST(PbtTest, AMemberWithoutACheckpointOrWhoseRoundFailedCopiesAnother) {
  PbtStrategy s(Space(), Options());
  std::mt19937_64 rng(3);
  const std::vector<Candidate> first = Round(s, rng);
  Fitness no_checkpoint(true, 0.95);
  no_checkpoint.resumable = false;
  ReportRound(s, first, {{1, {false, 0}}, {2, no_checkpoint}, {3, {true, 0.7}}, {4, {true, 0.6}}});
  const std::vector<Candidate> second = Round(s, rng);
  ASSERT_EQ(second.size(), 4u);
  // Members 1 and 2 have nothing to go on from (member 1 is the bottom quantile of one,
  // member 2 left no checkpoint, however accurate): both copy member 3, the top member.
  // Members 3 and 4 go on from their own.
  for (int m : {1, 2}) {
    EXPECT_EQ(second[m - 1].parents[0], 3) << "member " << m;
    EXPECT_EQ(second[m - 1].round->start_epoch, 2);
  }
  for (int m : {3, 4}) {
    EXPECT_EQ(second[m - 1].parents[0], m);
    EXPECT_EQ(second[m - 1].genome, first[m - 1].genome);
  }
  // No two rounds are the same schedule.
  std::set<std::pair<int64_t, std::vector<int>>> schedules;
  for (const Candidate& c : second) {
    EXPECT_TRUE(schedules.insert({c.parents[0], c.genome.choice}).second);
  }
}

TEST(PbtTest, WithNothingToCopyARoundTrainsFromTheFirstEpoch) {
  PbtStrategy s(Space(), Options());
  std::mt19937_64 rng(5);
  const std::vector<Candidate> first = Round(s, rng);
  ReportRound(s, first, {{1, {false, 0}}, {2, {false, 0}}, {3, {false, 0}}, {4, {false, 0}}});
  const std::vector<Candidate> second = Round(s, rng);
  ASSERT_EQ(second.size(), 4u);
  for (const Candidate& c : second) {
    EXPECT_EQ(c.round->start_epoch, 0);
    EXPECT_EQ(c.round->stop_epoch, 4);
  }
}

TEST(PbtTest, ExploreMovesEachTrainingGeneToANeighbourAndKeepsTheNetwork) {
  PbtOptions o = Options();
  o.population = 8;
  o.resample_probability = 0;
  o.quantile = 0.5;
  PbtStrategy s(Space(), o);
  std::mt19937_64 rng(11);
  const std::vector<Candidate> first = Round(s, rng);
  std::map<int, Fitness> scores;
  for (int m = 1; m <= 8; ++m) scores[m] = {true, 0.1 * m};
  ReportRound(s, first, scores);
  const std::vector<Candidate> second = Round(s, rng);
  int copies = 0;
  for (const Candidate& c : second) {
    if (c.parents[0] == first[c.round->member - 1].id) continue;
    ++copies;
    const genome::Genome& from = first[c.parents[0] - 1].genome;
    EXPECT_EQ(c.genome.choice[0], from.choice[0]);  // nb_neurons: the network
    for (int g : {1, 2}) {
      // One step from the source, or none at the end of the list it moved towards.
      EXPECT_LE(std::abs(c.genome.choice[g] - from.choice[g]), 1) << "gene " << g;
    }
    EXPECT_GE(c.parents[0], 5);  // a member of the top half
  }
  EXPECT_EQ(copies, 4);
}

// What a master's restart does: the stored rounds adopted, the results reported again,
// then the strategy goes on as the one that never stopped.
TEST(PbtTest, AdoptingTheStoredRoundsGoesOnAsBefore) {
  const std::map<int, Fitness> scores1 = {
      {1, {true, 0.3}}, {2, {true, 0.9}}, {3, {true, 0.5}}, {4, {true, 0.2}}};
  const std::map<int, Fitness> scores2 = {
      {1, {true, 0.4}}, {2, {true, 0.8}}, {3, {true, 0.1}}, {4, {true, 0.95}}};
  PbtOptions o = Options();
  o.quantile = 0.5;
  PbtStrategy live(Space(), o);
  std::mt19937_64 live_rng(42);
  const std::vector<Candidate> r1 = Round(live, live_rng);
  ReportRound(live, r1, scores1);
  const std::vector<Candidate> r2 = Round(live, live_rng);
  ReportRound(live, r2, scores2);

  PbtStrategy replayed(Space(), o);
  std::mt19937_64 replay_rng(42);
  for (const Candidate& c : r1) ASSERT_TRUE(replayed.Adopt(c, replay_rng).ok());
  ReportRound(replayed, r1, scores1);
  for (const Candidate& c : r2) ASSERT_TRUE(replayed.Adopt(c, replay_rng).ok());
  ReportRound(replayed, r2, scores2);

  const std::vector<Candidate> a = Round(live, live_rng);
  const std::vector<Candidate> b = Round(replayed, replay_rng);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].genome, b[i].genome);
    EXPECT_EQ(a[i].parents, b[i].parents);
    EXPECT_EQ(a[i].round, b[i].round);
  }
}

TEST(PbtTest, AdoptRefusesARoundThatGoesOnFromNoTrialOfTheRoundBefore) {
  PbtStrategy s(Space(), Options());
  std::mt19937_64 rng(1);
  const std::vector<Candidate> first = Round(s, rng);
  ReportRound(s, first, {{1, {true, 0.5}}, {2, {true, 0.6}}, {3, {true, 0.7}}, {4, {true, 0.8}}});
  PbtStrategy other(Space(), Options());
  std::mt19937_64 other_rng(1);
  for (const Candidate& c : first) ASSERT_TRUE(other.Adopt(c, other_rng).ok());
  ReportRound(other, first,
              {{1, {true, 0.5}}, {2, {true, 0.6}}, {3, {true, 0.7}}, {4, {true, 0.8}}});
  Candidate forged = Round(s, rng)[0];
  forged.parents[0] = 99;
  EXPECT_EQ(other.Adopt(forged, other_rng).code(), absl::StatusCode::kFailedPrecondition);
  Candidate skipped = forged;
  skipped.id = 7;
  EXPECT_EQ(other.Adopt(skipped, other_rng).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace deepevolve::ga
