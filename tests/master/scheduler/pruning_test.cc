// Pruned searches on the master: decisions in heartbeats, PRUNED results, selection,
// the ledger's fidelity, accounting, and durability across restarts.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/scheduler/master.h"
#include "tests/testing/fake_accuracy.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/heartbeats.h"
#include "tests/testing/master_pages.h"
#include "tests/testing/objectives.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::master {
namespace {

using ::deepevolve::testing::FakeAccuracy;
using ::deepevolve::testing::FakeClock;
using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::deepevolve::testing::TempDir;
using ::deepevolve::testing::Top;
using ::deepevolve::testing::TrialsPage;

class PruningTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  // (Re)opens the master on the test's database, as a restart would.
  void Open() {
    master_.reset();
    auto store = store::Store::Open(dir_.File("m.db"), store::Durability::kProcess);
    ASSERT_THAT(store, IsOk());
    db_ = &(*store)->db();
    MasterOptions options;
    options.lease_ms = 1000;
    auto master = Master::Create(std::move(*store), &clock_, options);
    ASSERT_THAT(master, IsOk());
    master_ = std::move(*master);
    v1::RegisterRequest r;
    r.set_worker_id("w");
    r.set_incarnation(1);
    ASSERT_THAT(master_->Register(r), IsOk());
  }

  static v1::SearchSpec Spec(const char* pruner, uint64_t seed = 3) {
    v1::SearchSpec spec;
    spec.set_preset("fashion_mnist_mlp");
    spec.mutable_steady_state()->set_population(6);
    spec.mutable_steady_state()->set_trials(24);
    spec.set_seed(seed);
    if (std::string(pruner) == "median") spec.mutable_pruner()->mutable_median();
    if (std::string(pruner) == "asha") spec.mutable_pruner()->mutable_asha();
    return spec;
  }

  std::optional<v1::Assignment> Acquire() {
    v1::AcquireRequest r;
    r.set_worker_id("w");
    r.set_incarnation(1);
    auto response = master_->Acquire(r);
    EXPECT_THAT(response, IsOk());
    if (!response.ok() || !response->has_assignment()) return std::nullopt;
    return response->assignment();
  }

  // Accuracy against size: the spec with the objectives, and the workers report a
  // made-up parameter count (from the hash) with each epoch and result.
  static v1::SearchSpec WithSize(v1::SearchSpec spec) {
    return ::deepevolve::testing::AccuracyAgainstParams(spec);
  }
  static double Params(const v1::Assignment& a) {
    return static_cast<double>(std::stoul(a.genome().hash().substr(0, 5), nullptr, 16));
  }

  v1::HeartbeatRequest Beat(const v1::Assignment& a, int epoch) const {
    v1::HeartbeatRequest beat = ::deepevolve::testing::EpochHeartbeat(
        a, "w", 1, epoch, FakeAccuracy(a.genome().hash(), epoch, a.task().epochs()));
    if (report_params_) (*beat.mutable_metrics())["params"] = Params(a);
    return beat;
  }

  // Trains `a` as a worker does: a heartbeat each epoch, stopping when told to prune
  // (after calling `after_beat`, which may restart the master), then the report.
  void Train(const v1::Assignment& a, const std::function<void()>& after_beat = nullptr) {
    const int epochs = a.task().epochs();
    int run = 0;
    for (int e = 1; e <= epochs; ++e) {
      clock_.AdvanceMs(100);
      auto response = master_->Heartbeat(Beat(a, e));
      ASSERT_THAT(response, IsOk());
      run = e;
      if (after_beat) after_beat();
      if (response->prune()) break;
    }
    v1::ReportRequest r;
    r.set_lease_id(a.lease_id());
    r.set_worker_id("w");
    r.set_incarnation(1);
    r.set_ok(true);
    r.set_accuracy(FakeAccuracy(a.genome().hash(), run, epochs));
    r.set_test_accuracy(r.accuracy() - 0.01);
    r.set_train_seconds(run);
    r.set_epochs_run(run);
    if (report_params_) (*r.mutable_metrics())["params"] = Params(a);
    auto response = master_->Report(r);
    ASSERT_THAT(response, IsOk());
    EXPECT_TRUE(response->accepted());
  }

  int64_t RunSearch(const v1::SearchSpec& spec) {
    auto submitted = master_->Submit(spec);
    EXPECT_THAT(submitted, IsOk());
    while (auto a = Acquire()) Train(*a);
    return submitted->search_id();
  }

  std::vector<v1::Trial> Trials(int64_t search_id) {
    int64_t next = 0;
    auto trials = TrialsPage(*master_, search_id, 0, 0, &next);
    EXPECT_THAT(trials, IsOk());
    return *trials;
  }

  // Restarts the master after every fifth heartbeat of `spec` (mid-trial, between a
  // decision and the report) on a fresh database: each genome stops where it stopped
  // in an uninterrupted run. Returns the restarted search's id.
  int64_t ExpectTheSameDecisionsAfterRestarts(const v1::SearchSpec& spec) {
    const int64_t uninterrupted = RunSearch(spec);
    std::vector<std::pair<std::string, int>> expected;
    for (const v1::Trial& t : Trials(uninterrupted)) {
      expected.emplace_back(t.genome().hash(), t.pruned_at_epoch());
    }
    master_.reset();
    std::filesystem::remove(dir_.File("m.db"));
    Open();
    auto submitted = master_->Submit(spec);
    EXPECT_THAT(submitted, IsOk());
    if (!submitted.ok()) return 0;
    int beats = 0;
    while (auto a = Acquire()) {
      Train(*a, [&] {
        if (++beats % 5 == 0) Open();
      });
    }
    std::vector<std::pair<std::string, int>> restarted;
    for (const v1::Trial& t : Trials(submitted->search_id())) {
      restarted.emplace_back(t.genome().hash(), t.pruned_at_epoch());
    }
    EXPECT_EQ(restarted, expected);
    EXPECT_EQ(master_->Get(submitted->search_id())->epochs_trained(),
              master_->Get(uninterrupted)->epochs_trained());
    EXPECT_GT(master_->Get(uninterrupted)->pruned(), 0);
    return submitted->search_id();
  }

  bool report_params_ = false;
  TempDir dir_;
  FakeClock clock_;
  store::Database* db_ = nullptr;  // the master's, for its sync hook
  std::unique_ptr<Master> master_;
};

TEST_F(PruningTest, AshaStopsGenomesAtItsRungsWithTheirAccuracyThere) {
  const int64_t id = RunSearch(Spec("asha"));
  auto summary = master_->Get(id);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  int pruned = 0, trained = 0, saved = 0;
  for (const v1::Trial& t : Trials(id)) {
    if (t.state() == v1::PRUNED) {
      ++pruned;
      // Rungs at 1 and 3 epochs of 4.
      EXPECT_THAT(t.epochs_run(), ::testing::AnyOf(1, 3)) << t.description();
      EXPECT_EQ(t.pruned_at_epoch(), t.epochs_run());
      EXPECT_DOUBLE_EQ(t.accuracy(), FakeAccuracy(t.genome().hash(), t.epochs_run(), 4));
      EXPECT_DOUBLE_EQ(t.test_accuracy(), t.accuracy() - 0.01);
      ASSERT_EQ(t.curve_size(), t.epochs_run());
      saved += 4 - t.epochs_run();
    } else {
      EXPECT_EQ(t.state(), v1::DONE);
      EXPECT_EQ(t.epochs_run(), 4);
    }
    trained += t.epochs_run();
  }
  EXPECT_GT(pruned, 8);  // most genomes stop at a rung
  EXPECT_EQ(summary->pruned(), pruned);
  EXPECT_EQ(summary->trials_done(), 24);
  EXPECT_EQ(summary->epochs_trained(), trained);
  EXPECT_EQ(summary->epochs_saved(), saved);
  EXPECT_EQ(trained + saved, 24 * 4);
  EXPECT_EQ(master_->Stats().genomes_pruned, pruned);
  // The best genome trained fully.
  EXPECT_EQ(summary->best().state(), v1::DONE);
  bool finished = false;
  auto events = master_->WaitEvents(id, 0, absl::ZeroDuration(), &finished);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(std::count_if(events->begin(), events->end(),
                          [](const v1::Event& e) { return e.kind() == v1::Event::GENOME_PRUNED; }),
            pruned);
}

TEST_F(PruningTest, PrunedGenomesRankBelowEveryGenomeThatTrainedFully) {
  const int64_t id = RunSearch(Spec("median"));
  auto board = Top(*master_, id, 100);
  ASSERT_THAT(board, IsOk());
  ASSERT_EQ(board->size(), 24u);
  bool seen_pruned = false;
  for (const v1::Trial& t : *board) {
    if (t.state() == v1::PRUNED) seen_pruned = true;
    // Once the pruned ones begin, no fully trained one follows.
    if (seen_pruned) {
      EXPECT_EQ(t.state(), v1::PRUNED) << t.description();
    }
  }
  EXPECT_TRUE(seen_pruned);
  // The first 5 genomes (min_trials) trained fully before any was stopped.
  for (const v1::Trial& t : Trials(id)) {
    if (t.genome().id() <= 5) {
      EXPECT_EQ(t.state(), v1::DONE) << t.genome().id();
    }
  }
}

TEST_F(PruningTest, APrunedResultIsPartialInTheLedger) {
  // Random search: the same genomes whatever their results.
  auto spec = [](const char* pruner) {
    v1::SearchSpec s = Spec(pruner);
    s.mutable_random()->set_trials(24);
    return s;
  };
  const int64_t pruned_search = RunSearch(spec("asha"));
  std::vector<std::string> pruned;
  for (const v1::Trial& t : Trials(pruned_search)) {
    if (t.state() == v1::PRUNED) pruned.push_back(t.genome().hash());
  }
  ASSERT_FALSE(pruned.empty());
  // The same search without a pruner takes only the full results from the ledger and
  // trains the pruned genomes fully; their full results replace the partial ones.
  const int64_t full = RunSearch(spec("none"));
  for (const v1::Trial& t : Trials(full)) {
    const bool was_pruned = std::count(pruned.begin(), pruned.end(), t.genome().hash()) > 0;
    EXPECT_EQ(t.state(), was_pruned ? v1::DONE : v1::CACHED) << t.description();
    EXPECT_EQ(t.epochs_run(), 4);
  }
  const int64_t third = RunSearch(spec("none"));
  for (const v1::Trial& t : Trials(third)) EXPECT_EQ(t.state(), v1::CACHED);
}

TEST_F(PruningTest, ARestartAnywhereGivesTheSameDecisions) {
  ExpectTheSameDecisionsAfterRestarts(Spec("asha", 5));
}

// Multi-objective ASHA: the rungs rank by Pareto front over the epoch's accuracy and the
// parameter count the heartbeats carry; the stored curves keep both, so a restarted
// master decides as the uninterrupted one did.
TEST_F(PruningTest, MultiObjectiveAshaGivesTheSameDecisionsAfterARestartAnywhere) {
  report_params_ = true;
  const int64_t id = ExpectTheSameDecisionsAfterRestarts(WithSize(Spec("asha", 5)));
  // A genome stopped at a rung was dominated there, or crowded out of its front:
  // some genome that went on was less accurate at that epoch.
  double least_accurate_on = 2, most_accurate_stopped = -1;  // at the first rung, epoch 1
  for (const v1::Trial& t : Trials(id)) {
    for (const v1::EpochPoint& p : t.curve()) {
      EXPECT_EQ(p.metrics().at("params"),
                static_cast<double>(std::stoul(t.genome().hash().substr(0, 5), nullptr, 16)));
      if (p.epoch() != 1) continue;
      if (t.pruned_at_epoch() == 1) {
        most_accurate_stopped = std::max(most_accurate_stopped, p.val_accuracy());
      } else {
        least_accurate_on = std::min(least_accurate_on, p.val_accuracy());
      }
    }
  }
  ASSERT_GE(most_accurate_stopped, 0);
  EXPECT_LT(least_accurate_on, most_accurate_stopped)
      << "no genome less accurate went on: the rung ranked by accuracy alone";
}

TEST_F(PruningTest, AWorkerLostAfterTheStopIsRecordedPrunedNotTrainedAgain) {
  v1::SearchSpec spec = Spec("asha");
  auto submitted = master_->Submit(spec);
  ASSERT_THAT(submitted, IsOk());
  // Train until a genome is told to stop, then lose its worker.
  for (;;) {
    auto a = Acquire();
    ASSERT_TRUE(a.has_value());
    auto first = master_->Heartbeat(Beat(*a, 1));
    ASSERT_THAT(first, IsOk());
    if (!first->prune()) {
      for (int e = 2; e <= 4; ++e) ASSERT_THAT(master_->Heartbeat(Beat(*a, e)), IsOk());
      v1::ReportRequest r;
      r.set_lease_id(a->lease_id());
      r.set_worker_id("w");
      r.set_incarnation(1);
      r.set_ok(true);
      r.set_accuracy(FakeAccuracy(a->genome().hash()));
      r.set_epochs_run(4);
      ASSERT_THAT(master_->Report(r), IsOk());
      continue;
    }
    // A retried heartbeat hears the same answer.
    EXPECT_TRUE(master_->Heartbeat(Beat(*a, 1))->prune());
    clock_.AdvanceMs(5000);
    ASSERT_THAT(master_->Tick(), IsOk());
    int64_t next = 0;
    auto trials = TrialsPage(*master_, submitted->search_id(), a->genome().id() - 1, 1, &next);
    ASSERT_THAT(trials, IsOk());
    const v1::Trial& t = trials->front();
    EXPECT_EQ(t.state(), v1::PRUNED);
    EXPECT_EQ(t.epochs_run(), 1);
    EXPECT_DOUBLE_EQ(t.accuracy(), FakeAccuracy(a->genome().hash(), 1, 4));
    EXPECT_EQ(master_->Get(submitted->search_id())->pruned(), 1);
    // Its late report is fenced and changes nothing.
    v1::ReportRequest late;
    late.set_lease_id(a->lease_id());
    late.set_worker_id("w");
    late.set_incarnation(1);
    late.set_ok(true);
    late.set_accuracy(0.99);
    late.set_epochs_run(1);
    EXPECT_FALSE(master_->Report(late)->accepted());
    EXPECT_DOUBLE_EQ(Top(*master_, submitted->search_id(), 100)->back().accuracy(), t.accuracy());
    return;
  }
}

// Audit F2: while the heartbeat that decided `prune` waits for its batch to reach the
// disk, another heartbeat of the same lease (the worker's renewal, or a retry) does not
// hear `prune` either: a crash in that window would leave the worker stopped on a
// decision the restarted master never made.
TEST_F(PruningTest, NoHeartbeatHearsPruneBeforeTheDecisionIsDurable) {
  v1::SearchSpec spec = Spec("asha");
  ASSERT_THAT(master_->Submit(spec), IsOk());
  auto good = Acquire();
  auto bad = Acquire();
  ASSERT_TRUE(good.has_value() && bad.has_value());
  ASSERT_FALSE(
      master_->Heartbeat(::deepevolve::testing::EpochHeartbeat(*good, "w", 1, 1, 0.9))->prune());
  absl::Notification in_sync, release, renewed;
  std::atomic<bool> released{false};
  std::atomic<int> syncs{0};
  db_->SetSyncHookForTesting([&] {
    if (syncs++ == 0) {
      in_sync.Notify();
      release.WaitForNotification();
    }
  });
  std::thread decide([&] {
    auto r = master_->Heartbeat(::deepevolve::testing::EpochHeartbeat(*bad, "w", 1, 1, 0.1));
    ASSERT_THAT(r, IsOk());
    EXPECT_TRUE(r->prune());
  });
  in_sync.WaitForNotification();  // the decision is written, its sync held
  std::thread renew([&] {
    v1::HeartbeatRequest h;
    h.set_lease_id(bad->lease_id());
    h.set_worker_id("w");
    h.set_incarnation(1);
    auto r = master_->Heartbeat(h);
    ASSERT_THAT(r, IsOk());
    EXPECT_TRUE(!r->prune() || released) << "told prune before the decision was durable";
    renewed.Notify();
  });
  // Gives an early answer the time to show; the renewal may not answer before release.
  renewed.WaitForNotificationWithTimeout(absl::Milliseconds(200));
  released = true;
  release.Notify();
  decide.join();
  renew.join();
  db_->SetSyncHookForTesting(nullptr);
}

// Audit F2's other half: a worker that stopped on `prune` says so in its report, and a
// master that lost the decision (crashed before it was durable) records the result as
// partial, never as a full training in the ledger.
TEST_F(PruningTest, AReportOfAStopTheMasterForgotIsStillPartial) {
  auto submitted = master_->Submit(Spec("asha"));
  ASSERT_THAT(submitted, IsOk());
  auto a = Acquire();
  ASSERT_TRUE(a.has_value());
  ASSERT_FALSE(master_->Heartbeat(Beat(*a, 1))->prune());  // the first at the rung goes on
  v1::ReportRequest r;
  r.set_lease_id(a->lease_id());
  r.set_worker_id("w");
  r.set_incarnation(1);
  r.set_ok(true);
  r.set_accuracy(0.5);
  r.set_test_accuracy(0.45);
  r.set_epochs_run(1);
  r.set_pruned_at_epoch(1);
  ASSERT_TRUE(master_->Report(r)->accepted());
  for (const v1::Trial& t : Trials(submitted->search_id())) {
    if (t.genome().id() != a->genome().id()) continue;
    EXPECT_EQ(t.state(), v1::PRUNED);
    EXPECT_EQ(t.pruned_at_epoch(), 1);
    EXPECT_EQ(t.epochs_run(), 1);
    EXPECT_DOUBLE_EQ(t.accuracy(), FakeAccuracy(a->genome().hash(), 1, a->task().epochs()));
  }
}

// Audit F13: a finished search's leaderboard past its stored 100 rows keeps its pruned
// trials, in the live ranking's order: fully trained first, then by accuracy, then the
// older genome.
TEST_F(PruningTest, AFinishedLeaderboardPastItsStoredRowsKeepsPrunedTrials) {
  v1::SearchSpec spec = Spec("asha");
  spec.mutable_steady_state()->set_trials(150);
  const int64_t id = RunSearch(spec);
  ASSERT_EQ(master_->Get(id)->state(), v1::SUCCEEDED);
  std::vector<v1::Trial> expected;
  for (const v1::Trial& t : Trials(id)) {
    if (t.error().empty() &&
        (t.state() == v1::DONE || t.state() == v1::CACHED || t.state() == v1::PRUNED)) {
      expected.push_back(t);
    }
  }
  std::stable_sort(expected.begin(), expected.end(), [](const v1::Trial& a, const v1::Trial& b) {
    const bool full_a = a.state() != v1::PRUNED, full_b = b.state() != v1::PRUNED;
    if (full_a != full_b) return full_a;
    if (a.accuracy() != b.accuracy()) return a.accuracy() > b.accuracy();
    return a.genome().id() < b.genome().id();
  });
  ASSERT_GT(expected.size(), 100u);
  ASSERT_TRUE(std::any_of(expected.begin(), expected.end(),
                          [](const v1::Trial& t) { return t.state() == v1::PRUNED; }));
  auto all = Top(*master_, id, 1000);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*all)[i].genome().id(), expected[i].genome().id()) << i;
  }
  auto stored = Top(*master_, id, 100);
  ASSERT_THAT(stored, IsOk());
  for (size_t i = 0; i < stored->size(); ++i) {
    EXPECT_EQ((*stored)[i].genome().id(), expected[i].genome().id()) << i;
  }
  // A search retired before rankings were stored is ranked from its trials, alike.
  ASSERT_THAT(db_->Exec("DELETE FROM rankings"), IsOk());
  auto legacy = Top(*master_, id, 1000);
  ASSERT_THAT(legacy, IsOk());
  ASSERT_EQ(legacy->size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*legacy)[i].genome().id(), expected[i].genome().id()) << i;
  }
}

// Issue 33 (and audit F13's cost): past its stored 100 rows, a finished search's
// leaderboard reads a page of its stored ranking, never every trial under the master's
// lock. A trial beyond the page is not read at all: here its record is damaged, and
// only a page that reaches it says so.
TEST_F(PruningTest, AFinishedLeaderboardReadsOnlyItsPage) {
  v1::SearchSpec spec = Spec("asha");
  spec.mutable_steady_state()->set_trials(150);
  const int64_t id = RunSearch(spec);
  auto all = Top(*master_, id, 1000);
  ASSERT_THAT(all, IsOk());
  ASSERT_GT(all->size(), 120u);
  const int64_t last = all->back().genome().id();
  ASSERT_THAT(db_->Exec(absl::StrCat("UPDATE trials SET trial = x'ffffffff' WHERE search_id = ", id,
                                     " AND genome_id = ", last)),
              IsOk());
  auto page = Top(*master_, id, 120);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->size(), 120u);
  for (size_t i = 0; i < page->size(); ++i) {
    EXPECT_EQ((*page)[i].genome().id(), (*all)[i].genome().id()) << i;
  }
  EXPECT_THAT(Top(*master_, id, 1000), StatusIs(absl::StatusCode::kDataLoss, ::testing::_));
}

TEST_F(PruningTest, AHeartbeatsNumbersAreChecked) {
  auto submitted = master_->Submit(Spec("asha"));
  ASSERT_THAT(submitted, IsOk());
  auto a = Acquire();
  ASSERT_TRUE(a.has_value());
  v1::HeartbeatRequest h = Beat(*a, 1);
  h.set_val_accuracy(std::nan(""));
  EXPECT_THAT(master_->Heartbeat(h),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("val_accuracy")));
  h = Beat(*a, 1);
  h.set_val_accuracy(1.5);
  EXPECT_THAT(master_->Heartbeat(h),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("val_accuracy")));
  h = Beat(*a, 5);
  EXPECT_THAT(master_->Heartbeat(h), StatusIs(absl::StatusCode::kInvalidArgument,
                                              ::testing::HasSubstr("past the task's 4")));
  h = Beat(*a, 1);
  h.set_loss(-1);
  EXPECT_THAT(master_->Heartbeat(h),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("loss")));
  // Nothing of those was recorded.
  int64_t next = 0;
  EXPECT_EQ(TrialsPage(*master_, submitted->search_id(), 0, 1, &next)->front().curve_size(), 0);
}

}  // namespace
}  // namespace deepevolve::master
