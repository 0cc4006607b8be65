#include "master/scheduler/master.h"

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <thread>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "genome/pareto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "master/scheduler/requests.h"
#include "tests/testing/fake_accuracy.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/heartbeats.h"
#include "tests/testing/master_pages.h"
#include "tests/testing/objectives.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::master {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using ::deepevolve::testing::FakeAccuracy;
using ::deepevolve::testing::FakeClock;
using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::SearchesPage;
using ::deepevolve::testing::StatusIs;
using ::deepevolve::testing::TempDir;
using ::deepevolve::testing::Top;
using ::deepevolve::testing::TrialsPage;

// Every trial of a search, a small page at a time (so that paging is exercised).
absl::StatusOr<std::vector<v1::Trial>> AllTrials(Master& master, int64_t search_id) {
  std::vector<v1::Trial> out;
  int64_t after = 0;
  do {
    absl::StatusOr<std::vector<v1::Trial>> page = TrialsPage(master, search_id, after, 3, &after);
    if (!page.ok()) return page.status();
    out.insert(out.end(), page->begin(), page->end());
  } while (after != 0);
  return out;
}

class MasterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void TearDown() override { master_.reset(); }

  // Leases of a second.
  static MasterOptions TestOptions() {
    MasterOptions options;
    options.lease_ms = 1000;
    return options;
  }

  // (Re)opens the master on the test's database, as a restart would.
  void Open(store::Durability durability = store::Durability::kProcess,
            MasterOptions options = TestOptions()) {
    master_.reset();
    auto store = store::Store::Open(dir_.File("m.db"), durability);
    ASSERT_TRUE(store.ok()) << store.status();
    db_ = &(*store)->db();
    auto master = Master::Create(std::move(*store), &clock_, options);
    ASSERT_TRUE(master.ok()) << master.status();
    master_ = std::move(*master);
  }

  void RegisterWorker(const std::string& id, int64_t incarnation = 1) {
    v1::RegisterRequest r;
    r.set_worker_id(id);
    r.set_incarnation(incarnation);
    ASSERT_TRUE(master_->Register(r).ok());
  }

  std::optional<v1::Assignment> Acquire(const std::string& worker, int64_t incarnation = 1) {
    v1::AcquireRequest r;
    r.set_worker_id(worker);
    r.set_incarnation(incarnation);
    r.set_wait_ms(0);
    auto response = master_->Acquire(r);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || !response->has_assignment()) return std::nullopt;
    return response->assignment();
  }

  // A result from `worker`'s first incarnation, the one RegisterWorker registers.
  v1::ReportRequest Result(const v1::Assignment& a, const std::string& worker) {
    v1::ReportRequest r;
    r.set_lease_id(a.lease_id());
    r.set_worker_id(worker);
    r.set_incarnation(1);
    r.set_ok(true);
    r.set_accuracy(FakeAccuracy(a.genome().hash()));
    r.set_test_accuracy(r.accuracy() - 0.01);
    r.set_train_seconds(1);
    r.set_epochs_run(a.task().epochs());  // a whole training
    // A size that grows with accuracy, give or take: what a two-objective search trades.
    (*r.mutable_metrics())["params"] =
        std::round(1e6 * r.accuracy() * FakeAccuracy(a.genome().hash() + "size"));
    return r;
  }

  // Trains every genome handed out until the search ends or `max_trials` ran.
  int RunWorker(const std::string& worker, int max_trials = 1 << 30) {
    int n = 0;
    while (n < max_trials) {
      auto a = Acquire(worker);
      if (!a.has_value()) break;
      auto response = master_->Report(Result(*a, worker));
      EXPECT_TRUE(response.ok() && response->accepted());
      ++n;
    }
    return n;
  }

  void ExpectRestartsChangeNothing(const v1::SearchSpec& spec);

  static v1::SearchSpec SmallSpec(uint64_t seed = 7) {
    v1::SearchSpec spec;
    spec.set_preset("fashion_mnist_mlp");
    spec.mutable_generational()->set_population(10);
    spec.mutable_generational()->set_generations(3);
    spec.set_seed(seed);
    return spec;
  }

  int64_t Rows(const std::string& table) {
    auto store = store::Store::Open(dir_.File("m.db"), store::Durability::kProcess);
    auto s = (*store)->db().Prepare(absl::StrCat("SELECT COUNT(*) FROM ", table));
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(*s->Step());
    return s->Int(0);
  }

  // Makes the next sync of the master's WAL wait: in_sync_ is notified when it starts,
  // and it goes on once release_ is notified. Later syncs run as usual.
  void HoldNextSync() {
    db_->SetSyncHookForTesting([this] {
      if (syncs_held_++ == 0) {
        in_sync_.Notify();
        release_.WaitForNotification();
      }
    });
  }

  TempDir dir_;
  store::Database* db_ = nullptr;  // the master's, for its sync hook
  absl::Notification in_sync_, release_;
  std::atomic<int> syncs_held_{0};
  FakeClock clock_;
  std::unique_ptr<Master> master_;
};

TEST_F(MasterTest, RunsASearchToTheEndAndRecordsEveryGenomeOnce) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  RegisterWorker("w1");
  const int trained = RunWorker("w1");
  auto summary = master_->Get(submitted->search_id());
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  EXPECT_EQ(summary->trials_done(), trained);
  EXPECT_EQ(master_->Stats().ledger_entries, trained);
  EXPECT_GE(trained, 10);
  auto top = Top(*master_, submitted->search_id(), 3);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 3u);
  EXPECT_GE((*top)[0].accuracy(), (*top)[1].accuracy());
  EXPECT_EQ((*top)[0].genome().hash(), summary->best().genome().hash());
}

// Reports that arrive while a sync is running wait for it, then share one commit and
// one sync; each is acknowledged only after the sync that covers it.
TEST_F(MasterTest, ReportsArrivingDuringASyncShareTheNextCommitAndSync) {
  Open(store::Durability::kFull);
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  std::vector<v1::Assignment> leases;
  for (int w = 0; w < 4; ++w) {
    RegisterWorker(absl::StrCat("w", w));
    auto a = Acquire(absl::StrCat("w", w));
    ASSERT_TRUE(a.has_value());
    leases.push_back(*a);
  }
  HoldNextSync();
  const MasterStats before = master_->Stats();
  std::atomic<int> accepted{0};
  auto report = [&](int w) {
    auto r = master_->Report(Result(leases[w], absl::StrCat("w", w)));
    if (r.ok() && r->accepted()) ++accepted;
  };
  std::thread leader(report, 0);
  in_sync_.WaitForNotification();  // report 0 is committed and being synced
  EXPECT_EQ(accepted.load(), 0);
  std::vector<std::thread> followers;
  for (int w = 1; w < 4; ++w) followers.emplace_back(report, w);
  // Bounded: the three followers write their steps and then wait for the sync.
  for (int spin = 0; spin < 10'000'000 && master_->Stats().store_steps < before.store_steps + 4;
       ++spin) {
    std::this_thread::yield();
  }
  EXPECT_EQ(master_->Stats().store_steps, before.store_steps + 4);
  EXPECT_EQ(accepted.load(), 0);
  release_.Notify();
  leader.join();
  for (std::thread& t : followers) t.join();
  db_->SetSyncHookForTesting(nullptr);
  const MasterStats after = master_->Stats();
  EXPECT_EQ(accepted.load(), 4);
  EXPECT_EQ(after.store_commits - before.store_commits, 2);
  EXPECT_EQ(after.store_syncs - before.store_syncs, 2);
  EXPECT_EQ(master_->sync_seconds().count(), after.store_syncs);
  EXPECT_EQ(master_->commit_seconds().count(), after.store_commits);
  EXPECT_EQ(after.genomes_done, 4);
}

// A worker hands in a result and gets its next genome in the same call.
TEST_F(MasterTest, AReportCanHandOutTheNextGenome) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  RegisterWorker("w1");
  auto first = Acquire("w1");
  ASSERT_TRUE(first.has_value());
  v1::ReportRequest report = Result(*first, "w1");
  report.set_acquire_next(true);
  report.set_incarnation(1);
  auto response = master_->Report(report);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(response->accepted());
  ASSERT_TRUE(response->has_next());
  EXPECT_NE(response->next().lease_id(), first->lease_id());
  EXPECT_NE(response->next().genome().id(), first->genome().id());
  ASSERT_EQ(response->next().gene_names_size(), 4);
  EXPECT_EQ(response->next().gene_names(0), "nb_neurons");
  EXPECT_EQ(master_->Stats().leases_active, 1);

  // The repeated report is answered again, with another genome; a holder that is not
  // registered (the master restarted meanwhile) gets none: its next Acquire tells it
  // to register.
  auto again = master_->Report(report);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->accepted());
  EXPECT_TRUE(again->has_next());
  Open();
  v1::ReportRequest stale = Result(response->next(), "w1");
  stale.set_acquire_next(true);
  auto refused = master_->Report(stale);
  ASSERT_TRUE(refused.ok());
  EXPECT_TRUE(refused->accepted());
  EXPECT_FALSE(refused->has_next());
  RegisterWorker("w1");

  // Run to the end on handed-over genomes only: the search finishes as with Acquire.
  std::optional<v1::Assignment> next = again->next();
  int trained = 2;  // the first genome and the one reported before registering again
  while (next.has_value()) {
    v1::ReportRequest r = Result(*next, "w1");
    r.set_acquire_next(true);
    r.set_incarnation(1);
    auto done = master_->Report(r);
    ASSERT_TRUE(done.ok());
    ++trained;
    next.reset();
    if (done->has_next()) next = done->next();
  }
  trained += RunWorker("w1");
  auto summary = master_->Get(submitted->search_id());
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  EXPECT_EQ(summary->trials_done(), trained);
}

// A watcher of a finished search is told it finished even while another search's
// newer events wait for their sync; and it never sees an event before it is durable.
TEST_F(MasterTest, WatchersSeeOnlyDurableEventsAndAFinishedSearchEnds) {
  auto first = master_->Submit(SmallSpec(1));
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  RunWorker("w1");
  ASSERT_EQ(master_->Get(first->search_id())->state(), v1::SUCCEEDED);
  auto second = master_->Submit(SmallSpec(2));
  ASSERT_TRUE(second.ok());
  auto lease = Acquire("w1");
  ASSERT_TRUE(lease.has_value());
  ASSERT_EQ(lease->search_id(), second->search_id());
  int64_t before_report = 0;
  {
    bool finished = false;
    for (;;) {
      auto events =
          master_->WaitEvents(second->search_id(), before_report, absl::ZeroDuration(), &finished);
      ASSERT_TRUE(events.ok());
      if (events->empty()) break;
      before_report = events->back().sequence();
    }
  }
  HoldNextSync();
  std::thread reporter([&] { (void)master_->Report(Result(*lease, "w1")); });
  in_sync_.WaitForNotification();  // the report's events are written, not yet durable

  bool finished = false;
  int64_t after = 0;
  for (int i = 0; i < 1000 && !finished; ++i) {
    auto events = master_->WaitEvents(first->search_id(), after, absl::ZeroDuration(), &finished);
    ASSERT_TRUE(events.ok());
    if (!events->empty()) after = events->back().sequence();
  }
  EXPECT_TRUE(finished);
  bool second_finished = false;
  auto pending = master_->WaitEvents(second->search_id(), before_report, absl::ZeroDuration(),
                                     &second_finished);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty()) << "an event was visible before its sync";

  release_.Notify();
  reporter.join();
  db_->SetSyncHookForTesting(nullptr);
  auto durable = master_->WaitEvents(second->search_id(), before_report, absl::ZeroDuration(),
                                     &second_finished);
  ASSERT_TRUE(durable.ok());
  EXPECT_FALSE(durable->empty());
}

// Runs `spec` to the end without a restart, then on a fresh database restarting after
// every third result: the leaderboards must hold the same genomes in the same order.
void MasterTest::ExpectRestartsChangeNothing(const v1::SearchSpec& spec) {
  // The uninterrupted search.
  auto first = master_->Submit(spec);
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  RunWorker("w1");
  auto uninterrupted = Top(*master_, first->search_id(), 100);
  ASSERT_TRUE(uninterrupted.ok());

  // The same search on a fresh database, restarted after every third result.
  master_.reset();
  fs::remove(dir_.File("m.db"));
  Open();
  auto second = master_->Submit(spec);
  ASSERT_TRUE(second.ok());
  for (int round = 0; round < 100; ++round) {
    RegisterWorker("w1");
    if (RunWorker("w1", 3) == 0) break;
    Open();
  }
  auto summary = master_->Get(second->search_id());
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  auto restarted = Top(*master_, second->search_id(), 100);
  ASSERT_TRUE(restarted.ok());
  ASSERT_EQ(restarted->size(), uninterrupted->size());
  for (size_t i = 0; i < restarted->size(); ++i) {
    EXPECT_EQ((*restarted)[i].genome().hash(), (*uninterrupted)[i].genome().hash()) << i;
  }
}

TEST_F(MasterTest, ARestartAnywhereGivesTheSameSearchAsNoRestart) {
  ExpectRestartsChangeNothing(SmallSpec(11));
}

// Accuracy against size: the leaderboard goes by Pareto front (its first rows are the
// genomes no other beats on both), generational selection by NSGA-II's order, and a
// restart anywhere replays the same search.
TEST_F(MasterTest, ASearchOfTwoObjectivesRanksByParetoFrontAndRestartsChangeNothing) {
  v1::SearchSpec spec = SmallSpec(5);
  spec.mutable_generational()->set_generations(4);
  for (const auto& [metric, goal] : {std::pair{"accuracy", "max"}, std::pair{"params", "min"}}) {
    v1::Objective* o = spec.add_objectives();
    o->set_metric(metric);
    o->set_goal(goal);
  }
  ExpectRestartsChangeNothing(spec);
  int64_t next = 0;
  auto listed = SearchesPage(*master_, 0, 1, &next);
  ASSERT_THAT(listed, IsOk());
  const int64_t id = listed->front().search_id();
  auto trials = AllTrials(*master_, id);
  auto board = Top(*master_, id, 1000);
  ASSERT_THAT(board, IsOk());
  ASSERT_EQ(board->size(), trials->size());
  const auto point = [](const v1::Trial& t) {
    return std::vector<double>{t.accuracy(), -t.metrics().at("params")};
  };
  // The non-dominated trials, by definition, lead the board; each row is dominated by
  // none below it.
  size_t front = 0;
  for (const v1::Trial& t : *trials) {
    bool dominated = false;
    for (const v1::Trial& u : *trials) dominated |= genome::Dominates(point(u), point(t));
    front += !dominated;
  }
  ASSERT_GE(front, 2u);
  for (size_t i = 0; i < board->size(); ++i) {
    for (size_t j = i + 1; j < board->size(); ++j) {
      EXPECT_FALSE(genome::Dominates(point((*board)[j]), point((*board)[i]))) << i << ", " << j;
    }
    if (i < front) {
      for (const v1::Trial& u : *trials) {
        EXPECT_FALSE(genome::Dominates(point(u), point((*board)[i]))) << i;
      }
    }
  }
  EXPECT_EQ(master_->Get(id)->best().genome().id(), board->front().genome().id());
  // The summary counts the front and the share of the box it covers.
  std::vector<std::vector<double>> on_front, all;
  for (const v1::Trial& t : *trials) all.push_back(point(t));
  for (const auto& p : all) {
    bool dominated = false;
    for (const auto& q : all) dominated |= genome::Dominates(q, p);
    if (!dominated) on_front.push_back(p);
  }
  std::vector<double> low = all[0], high = all[0];
  for (const auto& p : all) {
    for (int k = 0; k < 2; ++k) {
      low[k] = std::min(low[k], p[k]);
      high[k] = std::max(high[k], p[k]);
    }
  }
  for (auto& p : on_front) {
    for (int k = 0; k < 2; ++k) p[k] = (p[k] - low[k]) / (high[k] - low[k]);
  }
  // (Stored with the finished search: this master was restarted since.)
  auto summary = master_->Get(id);
  ASSERT_THAT(summary, IsOk());
  EXPECT_EQ(summary->front_size(), static_cast<int64_t>(front));
  EXPECT_NEAR(summary->hypervolume(), genome::Hypervolume(on_front, {0, 0}), 1e-12);
  EXPECT_GT(summary->hypervolume(), 0);
  EXPECT_LE(summary->hypervolume(), 1);
}

// Guided replays by taking back what its log handed out, not by breeding again (audit
// F3): the search goes on exactly as without the restarts all the same.
TEST_F(MasterTest, ARestartAnywhereGivesTheSameGuidedSearchAsNoRestart) {
  v1::SearchSpec spec;
  spec.set_preset("fashion_mnist_mlp");
  spec.mutable_guided()->set_population(8);
  spec.mutable_guided()->set_trials(40);
  spec.mutable_guided()->set_warmup(6);
  spec.set_seed(11);
  ExpectRestartsChangeNothing(spec);
}

TEST_F(MasterTest, AnExpiredLeaseIsHandedOutAgainAndItsLateReportIsFenced) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("slow");
  RegisterWorker("fast");
  auto a = Acquire("slow");
  ASSERT_TRUE(a.has_value());
  clock_.AdvanceMs(1500);  // past the 1 s lease, no heartbeat
  ASSERT_TRUE(master_->Tick().ok());
  // The genome goes to the front of the queue: the next worker gets it.
  auto b = Acquire("fast");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->genome().hash(), a->genome().hash());
  EXPECT_NE(b->lease_id(), a->lease_id());

  auto late = master_->Report(Result(*a, "slow"));
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->accepted());
  EXPECT_EQ(master_->Stats().reports_fenced, 1);
  auto on_time = master_->Report(Result(*b, "fast"));
  ASSERT_TRUE(on_time.ok());
  EXPECT_TRUE(on_time->accepted());
  // Repeating an accepted report is harmless.
  auto again = master_->Report(Result(*b, "fast"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->accepted());
  EXPECT_EQ(master_->Stats().ledger_entries, 1);
  EXPECT_EQ(master_->Stats().genomes_done, 1);
}

// --- Checkpoints: a lost lease's genome resumes on the next worker ---

// The progress a checkpoint after `epoch` comes with, from `worker` (first incarnation).
v1::HeartbeatRequest CheckpointOf(const v1::Assignment& a, const std::string& worker, int epoch,
                                  int resumed_from = 0) {
  v1::HeartbeatRequest h = testing::EpochHeartbeat(a, worker, 1, epoch, 0.5 + 0.1 * epoch);
  h.set_resumed_from_epoch(resumed_from);
  return h;
}

v1::GetCheckpointRequest CheckpointFor(const v1::Assignment& a, const std::string& worker) {
  v1::GetCheckpointRequest r;
  r.set_lease_id(a.lease_id());
  r.set_worker_id(worker);
  r.set_incarnation(1);
  return r;
}

int CheckpointFilesIn(const std::string& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.is_regular_file();
  return n;
}

TEST_F(MasterTest, ALostLeasesGenomeResumesAfterItsLastCheckpointOnTheNextWorker) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  const auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->checkpoint().every_epochs(), 1);  // the default: after every epoch
  EXPECT_EQ(a->resume_epoch(), 0);
  ASSERT_EQ(a->task().epochs(), 4);
  ASSERT_TRUE(master_->Heartbeat(testing::EpochHeartbeat(*a, "w1", 1, 1, 0.6)).ok());
  // The second epoch's progress and the state after it, recorded together.
  auto saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "state after 2");
  ASSERT_THAT(saved, IsOk());
  EXPECT_TRUE(saved->accepted()) << saved->reason();
  EXPECT_FALSE(saved->heartbeat().stop());
  // Fencing: an epoch not newer, one that follows no reported epoch, another worker's.
  saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "again");
  EXPECT_FALSE(saved->accepted());
  EXPECT_THAT(saved->reason(), HasSubstr("not after the stored checkpoint's (2)"));
  saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 4), "ahead");
  EXPECT_FALSE(saved->accepted());
  EXPECT_THAT(saved->reason(), HasSubstr("not the last reported (2) or the next"));
  EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*a, "w2", 3), "impostor"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("w2")));
  EXPECT_EQ(master_->Stats().checkpoints, 1);
  EXPECT_EQ(master_->Stats().checkpoint_bytes, 13);
  // The third epoch reports without a checkpoint (none due, or it was lost).
  ASSERT_TRUE(master_->Heartbeat(testing::EpochHeartbeat(*a, "w1", 1, 3, 0.8)).ok());

  // w1 is lost after its third epoch: w2 resumes after the second.
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  const auto b = Acquire("w2");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->genome().hash(), a->genome().hash());
  EXPECT_EQ(b->resume_epoch(), 2);
  auto got = master_->GetCheckpoint(CheckpointFor(*b, "w2"));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->epoch, 2);
  EXPECT_EQ(got->data, "state after 2");
  // The lost lease gets nothing and keeps nothing.
  EXPECT_THAT(master_->GetCheckpoint(CheckpointFor(*a, "w1")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not live")));
  saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 3), "late");
  EXPECT_FALSE(saved->accepted());
  EXPECT_THAT(saved->reason(), HasSubstr("is not live"));

  // One curve: the lost third epoch is gone, counted as lost, and trained once more.
  auto trials = AllTrials(*master_, 1);
  ASSERT_THAT(trials, IsOk());
  const v1::Trial* t = nullptr;
  for (const v1::Trial& x : *trials) {
    if (x.genome().id() == b->genome().id()) t = &x;
  }
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->curve_size(), 2);
  EXPECT_EQ(t->curve(1).epoch(), 2);
  EXPECT_EQ(t->lost(), 1);
  EXPECT_EQ(t->resumes(), 1);
  EXPECT_EQ(t->epochs_lost(), 1);
  auto summary = master_->Get(1);
  EXPECT_EQ(summary->preempted(), 1);
  EXPECT_EQ(summary->resumes(), 1);
  EXPECT_EQ(summary->epochs_lost(), 1);
  saved = master_->SaveCheckpoint(CheckpointOf(*b, "w2", 3, 2), "state after 3");
  EXPECT_TRUE(saved->accepted()) << saved->reason();
  v1::HeartbeatRequest last = testing::EpochHeartbeat(*b, "w2", 1, 4, 0.9);
  last.set_resumed_from_epoch(2);
  ASSERT_TRUE(master_->Heartbeat(last).ok());
  // The newer one replaced the older on disk.
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 1);
  ASSERT_TRUE(master_->Report(Result(*b, "w2"))->accepted());
  // The trial ended: its checkpoint is gone; every epoch counts once.
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 0);
  EXPECT_EQ(master_->Stats().checkpoints, 0);
  EXPECT_EQ(master_->Stats().checkpoint_bytes, 0);
  EXPECT_EQ(master_->Stats().resumes, 1);
  summary = master_->Get(1);
  EXPECT_EQ(summary->epochs_trained(), 4);
  EXPECT_EQ(summary->epochs_lost(), 1);
}

TEST_F(MasterTest, AWorkerThatCannotResumeTrainsFromTheFirstEpochAndTheTrialSaysWhy) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  const auto a = Acquire("w1");
  ASSERT_TRUE(master_->Heartbeat(testing::EpochHeartbeat(*a, "w1", 1, 1, 0.6)).ok());
  ASSERT_TRUE(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "state")->accepted());
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  const auto b = Acquire("w2");
  ASSERT_EQ(b->resume_epoch(), 2);
  v1::HeartbeatRequest h = testing::EpochHeartbeat(*b, "w2", 1, 1, 0.55);
  h.set_resume_error("the checkpoint cannot be read: truncated");
  ASSERT_TRUE(master_->Heartbeat(h).ok());
  auto trials = AllTrials(*master_, 1);
  const v1::Trial* t = nullptr;
  for (const v1::Trial& x : *trials) {
    if (x.genome().id() == b->genome().id()) t = &x;
  }
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->curve_size(), 1);  // the new first epoch only
  EXPECT_EQ(t->curve(0).val_accuracy(), 0.55);
  EXPECT_EQ(t->checkpoint_epoch(), 0);
  EXPECT_EQ(t->resumes(), 0);
  EXPECT_EQ(t->epochs_lost(), 2);
  EXPECT_THAT(t->resume_error(), HasSubstr("cannot be read"));
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 0);
  // It checkpoints afresh.
  EXPECT_TRUE(master_->SaveCheckpoint(CheckpointOf(*b, "w2", 2), "new")->accepted());
}

TEST_F(MasterTest, ACheckpointOutlivesAMasterRestartAndStrayFilesDoNot) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  const auto a = Acquire("w1");
  ASSERT_TRUE(master_->Heartbeat(testing::EpochHeartbeat(*a, "w1", 1, 1, 0.6)).ok());
  ASSERT_TRUE(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "durable state")->accepted());
  // A file no record names (a crash between a newer checkpoint and removing the older).
  std::ofstream(dir_.File("m.db.checkpoints/search-1-genome-1-epoch-1.ckpt")) << "older";
  std::ofstream(dir_.File("m.db.checkpoints/search-9-genome-9-epoch-9.ckpt")) << "stray";
  Open();
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 1);
  EXPECT_EQ(master_->Stats().checkpoints, 1);
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  RegisterWorker("w2");
  const auto b = Acquire("w2");
  ASSERT_EQ(b->resume_epoch(), 2);
  auto got = master_->GetCheckpoint(CheckpointFor(*b, "w2"));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, "durable state");
}

// --checkpoint-dir shared with the workers: a worker writes its checkpoint there and
// sends the staging name; the master checks it, moves it into place or removes it, and
// names the file to resume from in the next worker's assignment.
TEST_F(MasterTest, InASharedDirectoryWorkersWriteAndReadTheCheckpointsThemselves) {
  MasterOptions options = TestOptions();
  options.checkpoint_dir = dir_.File("shared");
  Open(store::Durability::kProcess, options);
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  const auto a = Acquire("w1");
  ASSERT_TRUE(master_->Heartbeat(testing::EpochHeartbeat(*a, "w1", 1, 1, 0.6)).ok());
  auto staged = [&](const std::string& name, const std::string& data) {
    std::ofstream(dir_.File("shared/" + name)) << data;
    return name;
  };
  auto saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "",
                                       staged("staged-w-w1-1-0", "state after 2"));
  ASSERT_THAT(saved, IsOk());
  EXPECT_TRUE(saved->accepted()) << saved->reason();
  const std::string name = absl::StrCat("search-1-genome-", a->genome().id(), "-epoch-2.ckpt");
  EXPECT_TRUE(fs::exists(dir_.File("shared/" + name)));
  EXPECT_FALSE(fs::exists(dir_.File("shared/staged-w-w1-1-0")));
  EXPECT_EQ(master_->Stats().checkpoint_bytes, 13);
  // Refused (not newer): the staged file is removed. Names that are not staging names,
  // and files that are not regular, are not taken.
  saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 2), "", staged("staged-w-w1-1-1", "x"));
  EXPECT_FALSE(saved->accepted());
  EXPECT_FALSE(fs::exists(dir_.File("shared/staged-w-w1-1-1")));
  for (const std::string& bad : {std::string("../m.db"), std::string("staged-/../../m.db"),
                                 std::string("search-1-genome-1-epoch-2.ckpt")}) {
    EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 3), "", bad),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a staging name")))
        << bad;
  }
  fs::create_symlink(dir_.File("m.db"), dir_.File("shared/staged-link"));
  EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 3), "", "staged-link"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a regular file")));
  EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 3), "", "staged-gone"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no file")));
  // The next worker is told where the checkpoint is.
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  const auto b = Acquire("w2");
  ASSERT_EQ(b->resume_epoch(), 2);
  EXPECT_EQ(b->checkpoint_file(), name);
  // Streaming still works against it, for workers that do not share the directory.
  ASSERT_THAT(master_->GetCheckpoint(CheckpointFor(*b, "w2")), IsOk());
  EXPECT_TRUE(master_->SaveCheckpoint(CheckpointOf(*b, "w2", 3, 2), "streamed 3")->accepted());

  // A master that keeps its checkpoints to itself says so.
  Open();
  EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*b, "w2", 3, 2), "", "staged-w-w2-1-0"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("send the checkpoint")));
}

TEST_F(MasterTest, ASearchWithoutCheckpointsTakesNoneAndTheSizeIsCapped) {
  v1::SearchSpec spec = SmallSpec();
  spec.mutable_checkpoint()->set_disabled(true);
  ASSERT_TRUE(master_->Submit(spec).ok());
  RegisterWorker("w1");
  const auto a = Acquire("w1");
  EXPECT_TRUE(a->checkpoint().disabled());
  auto saved = master_->SaveCheckpoint(CheckpointOf(*a, "w1", 1), "state");
  EXPECT_FALSE(saved->accepted());
  EXPECT_THAT(saved->reason(), HasSubstr("takes no checkpoints"));

  MasterOptions small = TestOptions();
  small.max_checkpoint_bytes = 4;
  Open(store::Durability::kProcess, small);
  EXPECT_THAT(master_->SaveCheckpoint(CheckpointOf(*a, "w1", 1), "12345"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("--max-checkpoint-mb")));
}

TEST_F(MasterTest, HeartbeatsKeepALeaseAlive) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMs(800);
    v1::HeartbeatRequest h;
    h.set_lease_id(a->lease_id());
    h.set_worker_id("w1");
    h.set_incarnation(1);
    h.set_epoch(std::min(i + 1, 4));  // the task's 4, then retried
    h.set_epochs(4);
    auto response = master_->Heartbeat(h);
    ASSERT_TRUE(response.ok());
    EXPECT_FALSE(response->stop());
    ASSERT_TRUE(master_->Tick().ok());
  }
  EXPECT_EQ(master_->Stats().leases_expired, 0);
  EXPECT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
}

// Audit F14: a retried heartbeat of an earlier epoch that arrives after a later one
// adds no point: the curve has one point per epoch, in order.
TEST_F(MasterTest, ALateHeartbeatOfAnEarlierEpochAddsNoPoint) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  for (int epoch : {1, 2, 1, 2}) {
    ASSERT_TRUE(
        master_->Heartbeat(::deepevolve::testing::EpochHeartbeat(*a, "w1", 1, epoch, 0.1 * epoch))
            .ok());
  }
  auto trials = AllTrials(*master_, submitted->search_id());
  ASSERT_TRUE(trials.ok());
  const v1::Trial* t = nullptr;
  for (const v1::Trial& each : *trials) {
    if (each.genome().id() == a->genome().id()) t = &each;
  }
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->curve_size(), 2);
  EXPECT_EQ(t->curve(0).epoch(), 1);
  EXPECT_EQ(t->curve(1).epoch(), 2);
}

TEST_F(MasterTest, ASecondSearchOnTheSameTaskIsAnsweredFromTheLedger) {
  auto first = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  const int trained = RunWorker("w1");
  // Same seed, same task: every genome it proposes is already in the ledger.
  auto second = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(RunWorker("w1"), 0);
  auto summary = master_->Get(second->search_id());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  EXPECT_EQ(summary->ledger_hits(), trained);
  EXPECT_EQ(master_->Stats().ledger_entries, trained);
  // Asking to retrain trains again.
  v1::SearchSpec retrain = SmallSpec(3);
  retrain.set_retrain(true);
  ASSERT_TRUE(master_->Submit(retrain).ok());
  EXPECT_EQ(RunWorker("w1"), trained);
}

// A result's metrics stay with its ledger entry: a later search on the task (here after
// a restart) takes them with the accuracy, whatever objectives it has.
TEST_F(MasterTest, MetricsAreKeptInTheLedgerAndComeWithALedgerHit) {
  auto first = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  std::map<std::string, double> reported;
  while (auto a = Acquire("w1")) {
    v1::ReportRequest r = Result(*a, "w1");
    const double params = static_cast<double>(1000 + a->genome().id());
    (*r.mutable_metrics())["params"] = params;
    (*r.mutable_metrics())["latency_ms"] = 0.5;
    reported[a->genome().hash()] = params;
    ASSERT_TRUE(master_->Report(r)->accepted());
  }
  Open();
  auto second = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(second.ok());
  auto trials = AllTrials(*master_, second->search_id());
  ASSERT_THAT(trials, IsOk());
  ASSERT_FALSE(trials->empty());
  for (const v1::Trial& t : *trials) {
    ASSERT_EQ(t.state(), v1::CACHED);
    EXPECT_EQ(t.metrics().at("params"), reported.at(t.genome().hash()));
    EXPECT_EQ(t.metrics().at("latency_ms"), 0.5);
  }
}

// Objectives are no part of the task: a search that ranks the same genomes by other
// objectives trains none of them again, and ranks them by its own.
TEST_F(MasterTest, ASearchWithOtherObjectivesReusesEveryTrainedGenome) {
  ASSERT_TRUE(master_->Submit(SmallSpec(3)).ok());
  RegisterWorker("w1");
  const int trained = RunWorker("w1");
  v1::SearchSpec smallest = SmallSpec(3);
  v1::Objective* o = smallest.add_objectives();
  o->set_metric("params");
  o->set_goal("min");
  auto second = master_->Submit(smallest);
  ASSERT_TRUE(second.ok()) << second.status();
  // Selection by size breeds other genomes than selection by accuracy did; those it
  // shares with the first search come from the ledger.
  const int trained_again = RunWorker("w1");
  auto summary = master_->Get(second->search_id());
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  EXPECT_GE(summary->ledger_hits(), 10);  // the first generation, the same seed's
  EXPECT_EQ(summary->ledger_hits() + trained_again, summary->trials_done());
  EXPECT_EQ(master_->Stats().ledger_entries, trained + trained_again);
  auto board = Top(*master_, second->search_id(), 1000);
  ASSERT_THAT(board, IsOk());
  for (size_t i = 1; i < board->size(); ++i) {
    EXPECT_LE((*board)[i - 1].metrics().at("params"), (*board)[i].metrics().at("params")) << i;
  }
}

TEST_F(MasterTest, AReportWithAMetricThatIsNoneIsRefusedAndChangesNothing) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  for (const auto& [name, value, words] : std::vector<std::tuple<std::string, double, std::string>>{
           {"Latency", 1, "no metric name"},
           {"accuracy", 0.5, "in its own field"},
           {"params", std::nan(""), "params is not finite"}}) {
    v1::ReportRequest r = Result(*a, "w1");
    (*r.mutable_metrics())[name] = value;
    EXPECT_THAT(master_->Report(r).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(words)));
  }
  v1::ReportRequest many = Result(*a, "w1");
  for (int i = 0; i < 33; ++i) (*many.mutable_metrics())[absl::StrCat("m", i)] = i;
  EXPECT_THAT(master_->Report(many).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 32")));
  EXPECT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
}

TEST_F(MasterTest, GenomeFailuresAreRetriedThenRecordedFailed) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  v1::ReportRequest nan = Result(*a, "w1");
  nan.set_ok(false);
  nan.set_accuracy(0);
  nan.set_error("loss became NaN");
  EXPECT_TRUE(master_->Report(nan)->accepted());
  // Retried once (max_genome_attempts = 2): it comes back at the end of the queue.
  std::optional<v1::Assignment> retry;
  for (int i = 0; i < 20 && !retry.has_value(); ++i) {
    auto b = Acquire("w1");
    ASSERT_TRUE(b.has_value());
    if (b->genome().hash() == a->genome().hash()) {
      retry = b;
    } else {
      ASSERT_TRUE(master_->Report(Result(*b, "w1"))->accepted());
    }
  }
  ASSERT_TRUE(retry.has_value());
  nan.set_lease_id(retry->lease_id());
  EXPECT_TRUE(master_->Report(nan)->accepted());
  auto trials = AllTrials(*master_, a->search_id());
  const v1::Trial& t = (*trials)[a->genome().id() - 1];
  EXPECT_EQ(t.state(), v1::TRIAL_FAILED);
  EXPECT_EQ(t.attempts(), 2);
  EXPECT_EQ(t.error(), "loss became NaN");
}

TEST_F(MasterTest, BadInputIsRejectedAndStoresNothing) {
  v1::SearchSpec bad = SmallSpec();
  bad.mutable_task()->set_epochs(-1);
  auto s = master_->Submit(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(s.status()));
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("task.epochs"));
  bad = SmallSpec();
  bad.set_preset("no_such_preset");
  EXPECT_TRUE(absl::IsInvalidArgument(master_->Submit(bad).status()));
  bad = SmallSpec();
  bad.mutable_task()->set_dataset("imagenet");
  EXPECT_TRUE(absl::IsInvalidArgument(master_->Submit(bad).status()));
  EXPECT_EQ(Rows("searches"), 0);

  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  const int64_t events = Rows("events");
  RegisterWorker("w1");
  auto a = Acquire("w1");
  const int64_t events_after_acquire = Rows("events");
  EXPECT_GT(events_after_acquire, events);
  for (double accuracy : {1.5, -0.1, std::nan(""), std::numeric_limits<double>::infinity()}) {
    v1::ReportRequest r = Result(*a, "w1");
    r.set_accuracy(accuracy);
    auto response = master_->Report(r);
    EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << accuracy;
    EXPECT_THAT(std::string(response.status().message()), HasSubstr("accuracy"));
  }
  EXPECT_EQ(Rows("ledger"), 0);
  EXPECT_EQ(Rows("events"), events_after_acquire);

  v1::ReportRequest unknown = Result(*a, "w1");
  unknown.set_lease_id(999);
  EXPECT_TRUE(absl::IsNotFound(master_->Report(unknown).status()));
  v1::HeartbeatRequest h;
  h.set_lease_id(999);
  EXPECT_TRUE(absl::IsNotFound(master_->Heartbeat(h).status()));
  v1::AcquireRequest stranger;
  stranger.set_worker_id("never-registered");
  EXPECT_TRUE(absl::IsFailedPrecondition(master_->Acquire(stranger).status()));
  EXPECT_TRUE(absl::IsNotFound(master_->Get(42).status()));
  v1::RegisterRequest nameless;
  EXPECT_TRUE(absl::IsInvalidArgument(master_->Register(nameless).status()));
}

TEST_F(MasterTest, CancelStopsWorkersAndAbandonsTheQueue) {
  auto submitted = master_->Submit(SmallSpec());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  auto cancelled = master_->Cancel(submitted->search_id());
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  v1::HeartbeatRequest h;
  h.set_lease_id(a->lease_id());
  h.set_worker_id("w1");
  h.set_incarnation(1);
  EXPECT_TRUE(master_->Heartbeat(h)->stop());
  EXPECT_FALSE(Acquire("w1").has_value());
  // Still cancelled after a restart, and cancelling again changes nothing.
  Open();
  EXPECT_EQ(master_->Get(submitted->search_id())->state(), v1::CANCELLED);
  EXPECT_EQ(master_->Cancel(submitted->search_id())->state(), v1::CANCELLED);
}

TEST_F(MasterTest, ARestartedWorkerLosesTheLeasesOfItsPreviousLife) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1", 1);
  auto a = Acquire("w1", 1);
  ASSERT_TRUE(a.has_value());
  RegisterWorker("w1", 2);
  auto b = Acquire("w1", 2);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->genome().hash(), a->genome().hash());
  EXPECT_FALSE(master_->Report(Result(*a, "w1"))->accepted());
}

TEST_F(MasterTest, LeasesOpenAtACrashCanStillReportAfterTheRestart) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  Open();  // the master restarts while w1 trains
  EXPECT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
  EXPECT_EQ(master_->Stats().ledger_entries, 1);
}

TEST_F(MasterTest, WatchSeesEveryEventThroughTheEnd) {
  auto submitted = master_->Submit(SmallSpec());
  RegisterWorker("w1");
  RunWorker("w1");
  int64_t after = 0;
  bool finished = false;
  int finished_genomes = 0, generations = 0, done = 0;
  while (!finished) {
    auto events =
        master_->WaitEvents(submitted->search_id(), after, absl::ZeroDuration(), &finished);
    ASSERT_TRUE(events.ok());
    for (const v1::Event& e : *events) {
      after = e.sequence();
      finished_genomes += e.kind() == v1::Event::GENOME_FINISHED;
      generations += e.kind() == v1::Event::GENERATION_DONE;
      done += e.kind() == v1::Event::SEARCH_DONE;
    }
  }
  EXPECT_EQ(finished_genomes, master_->Get(submitted->search_id())->trials_done());
  EXPECT_EQ(generations, 3);
  EXPECT_EQ(done, 1);
}

TEST_F(MasterTest, TheBestModelIsKept) {
  auto submitted = master_->Submit(SmallSpec());
  RegisterWorker("w1");
  std::string best_hash;
  double best = -1;
  for (;;) {
    auto a = Acquire("w1");
    if (!a.has_value()) break;
    v1::ReportRequest r = Result(*a, "w1");
    r.set_model("weights of " + a->genome().hash());
    if (r.accuracy() > best) {
      best = r.accuracy();
      best_hash = a->genome().hash();
    }
    ASSERT_TRUE(master_->Report(r)->accepted());
  }
  auto model = master_->GetModel(submitted->search_id(), 0);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->data(), "weights of " + best_hash);
  EXPECT_EQ(model->trial().genome().hash(), best_hash);
  // Files beside the database, one per genome that was a new best when it reported;
  // the models that were not are gone, and so is what a stopped master left staged.
  EXPECT_EQ(Rows("ledger_models"), 0);
  const fs::path models = dir_.File("m.db") + ".models";
  { std::ofstream(models / "staged-1-0") << "left by a master that stopped"; }
  Open();
  int files = 0;
  for (const auto& entry : fs::directory_iterator(models)) {
    EXPECT_EQ(entry.path().extension(), ".pt") << entry.path();
    ++files;
  }
  EXPECT_GE(files, 1);
  EXPECT_LT(files, 23);
  model = master_->GetModel(submitted->search_id(), 0);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->data(), "weights of " + best_hash);
}

// With several objectives a less accurate genome may be on the front: workers are told
// no best accuracy (so they upload every model), and the model of each genome on the
// front when it reported is kept, so that any member of the final front exports.
TEST_F(MasterTest, WithSeveralObjectivesEveryFrontMembersModelIsKept) {
  v1::SearchSpec spec = SmallSpec(5);
  ::deepevolve::testing::AccuracyAgainstParams(spec);
  auto submitted = master_->Submit(spec);
  ASSERT_THAT(submitted, IsOk());
  RegisterWorker("w1");
  while (auto a = Acquire("w1")) {
    EXPECT_FALSE(a->has_best_accuracy());
    v1::ReportRequest r = Result(*a, "w1");
    // A size of its own, so that most genomes are dominated.
    (*r.mutable_metrics())["params"] =
        static_cast<double>(std::stoul(a->genome().hash().substr(8, 4), nullptr, 16));
    r.set_model("weights of " + a->genome().hash());
    ASSERT_TRUE(master_->Report(r)->accepted());
  }
  auto trials = AllTrials(*master_, submitted->search_id());
  ASSERT_THAT(trials, IsOk());
  const auto point = [](const v1::Trial& t) {
    return std::vector<double>{t.accuracy(), -t.metrics().at("params")};
  };
  int front = 0, others_kept = 0;
  for (const v1::Trial& t : *trials) {
    bool dominated = false;
    for (const v1::Trial& u : *trials) dominated |= genome::Dominates(point(u), point(t));
    auto model = master_->GetModel(submitted->search_id(), t.genome().id());
    if (!dominated) {
      ++front;
      ASSERT_THAT(model, IsOk()) << t.description();
      EXPECT_EQ(model->data(), "weights of " + t.genome().hash());
    } else {
      others_kept += model.ok();  // on the front when it reported, dominated since
    }
  }
  EXPECT_GE(front, 2);
  EXPECT_LT(others_kept, static_cast<int>(trials->size()) - front);
}

// Models are kept by ledger entry: a search answered wholly from the ledger exports the
// model of the training that made its best genome's entry.
TEST_F(MasterTest, ASearchOfLedgerHitsExportsItsBestGenomesModel) {
  auto first = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  for (;;) {
    auto a = Acquire("w1");
    if (!a.has_value()) break;
    v1::ReportRequest r = Result(*a, "w1");
    r.set_model("weights of " + a->genome().hash());
    ASSERT_TRUE(master_->Report(r)->accepted());
  }
  auto again = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(again.ok());
  auto summary = master_->Get(again->search_id());
  ASSERT_EQ(summary->state(), v1::SUCCEEDED);
  ASSERT_EQ(summary->ledger_hits(), summary->trials_done());
  auto model = master_->GetModel(again->search_id(), 0);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->trial().state(), v1::CACHED);
  EXPECT_EQ(model->trial().genome().hash(), summary->best().genome().hash());
  EXPECT_EQ(model->data(), "weights of " + summary->best().genome().hash());
}

// Audit F8: a model file is the training's that made its ledger entry. A search that
// retrains a genome (retrain: true) does not replace the first training's weights,
// which still match the result the ledger shows.
TEST_F(MasterTest, ARetrainingThatDidNotMakeTheEntryKeepsNoModel) {
  v1::SearchSpec one = SmallSpec(3);
  one.clear_generational();
  one.mutable_random()->set_trials(1);
  auto first = master_->Submit(one);
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  v1::ReportRequest r = Result(*a, "w1");
  r.set_model("run 1");
  ASSERT_TRUE(master_->Report(r)->accepted());
  ASSERT_EQ(master_->GetModel(first->search_id(), 0)->data(), "run 1");

  one.set_retrain(true);
  auto second = master_->Submit(one);
  ASSERT_TRUE(second.ok());
  auto b = Acquire("w1");
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->genome().hash(), a->genome().hash());
  r = Result(*b, "w1");
  r.set_accuracy(r.accuracy() / 2);
  r.set_test_accuracy(r.accuracy());
  r.set_model("run 2");
  ASSERT_TRUE(master_->Report(r)->accepted());
  EXPECT_EQ(master_->GetModel(first->search_id(), 0)->data(), "run 1");
  // The files hold the staged model nowhere else either.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.File("m.db") + ".models")) {
    EXPECT_EQ(entry.path().extension(), ".pt") << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 1);
}

// Audit F17: a report whose lease is not the caller's stages no model, and audit F22:
// epochs_run is bounded like every other number of a report.
TEST_F(MasterTest, AReportFromAStrangerOrWithImpossibleEpochsChangesNothing) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  v1::ReportRequest stolen = Result(*a, "w2");
  stolen.set_model(std::string(1 << 20, 'x'));
  EXPECT_TRUE(absl::IsPermissionDenied(master_->Report(stolen).status()));
  EXPECT_TRUE(fs::is_empty(dir_.File("m.db") + ".models"));
  for (int epochs : {-5, 5, 1 << 30}) {
    v1::ReportRequest r = Result(*a, "w1");
    r.set_epochs_run(epochs);
    auto response = master_->Report(r);
    EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << epochs;
    EXPECT_THAT(std::string(response.status().message()), HasSubstr("epochs_run")) << epochs;
  }
  EXPECT_EQ(Rows("ledger"), 0);
  EXPECT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
}

TEST_F(MasterTest, AssignmentsAndHeartbeatsTellTheSearchsBestSoFar) {
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->has_best_accuracy());
  auto b = Acquire("w1");
  ASSERT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
  auto c = Acquire("w1");
  ASSERT_TRUE(c.has_value());
  EXPECT_DOUBLE_EQ(c->best_accuracy(), FakeAccuracy(a->genome().hash()));
  v1::HeartbeatRequest h;
  h.set_lease_id(b->lease_id());
  h.set_worker_id("w1");
  h.set_incarnation(1);
  EXPECT_DOUBLE_EQ(master_->Heartbeat(h)->best_accuracy(), FakeAccuracy(a->genome().hash()));
}

TEST_F(MasterTest, ACorruptDatabaseIsNamed) {
  master_.reset();
  const fs::path path = dir_.path() / "junk.db";
  { std::ofstream(path) << std::string(8192, 'x'); }
  auto store = store::Store::Open(path.string());
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("junk.db"));
}

// A heartbeat from w1 (incarnation 1) after `epoch` epochs of the lease's trial.
v1::HeartbeatRequest Progress(const v1::Assignment& a, int epoch) {
  return ::deepevolve::testing::EpochHeartbeat(a, "w1", 1, epoch, 0.1 * epoch);
}

// A finished search leaves memory: it is read from the store, and answers as it did
// while it ran, before and after a restart. Its per-epoch events go, their points kept
// in the trials' curves.
TEST_F(MasterTest, AFinishedSearchIsReadFromTheStoreAndAnswersAsBefore) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  const int64_t id = submitted->search_id();
  RegisterWorker("w1");
  auto first = Acquire("w1");
  ASSERT_TRUE(first.has_value());
  for (int epoch = 1; epoch <= 4; ++epoch)
    ASSERT_THAT(master_->Heartbeat(Progress(*first, epoch)).status(), IsOk());
  ASSERT_TRUE(master_->Report(Result(*first, "w1"))->accepted());
  RunWorker("w1");

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    EXPECT_TRUE(master_->Running().empty());
    auto summary = master_->Get(id);
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->state(), v1::SUCCEEDED);
    EXPECT_EQ(summary->generation(), 3);
    auto trials = AllTrials(*master_, id);
    ASSERT_TRUE(trials.ok());
    const size_t n = trials->size();
    EXPECT_GT(n, 10u);
    EXPECT_EQ(summary->trials_done(), static_cast<int64_t>(n));
    std::vector<v1::Trial> ranked = *trials;
    std::stable_sort(ranked.begin(), ranked.end(), [](const v1::Trial& a, const v1::Trial& b) {
      return a.accuracy() > b.accuracy();
    });
    EXPECT_EQ(summary->best().genome().id(), ranked[0].genome().id());
    for (const int limit : {5, 30, 200}) {  // from the stored leaderboard, then from every trial
      auto top = Top(*master_, id, limit);
      ASSERT_TRUE(top.ok());
      ASSERT_EQ(top->size(), std::min<size_t>(limit, n));
      for (size_t i = 0; i < top->size(); ++i) {
        EXPECT_EQ((*top)[i].genome().id(), ranked[i].genome().id()) << i;
      }
    }
    const v1::Trial& curved = (*trials)[first->genome().id() - 1];
    ASSERT_EQ(curved.curve_size(), 4);
    EXPECT_DOUBLE_EQ(curved.curve(3).val_accuracy(), 0.4);
    bool finished = false;
    auto events = master_->WaitEvents(id, 0, absl::ZeroDuration(), &finished);
    ASSERT_TRUE(events.ok());
    EXPECT_FALSE(events->empty());
    for (const v1::Event& e : *events) EXPECT_NE(e.kind(), v1::Event::GENOME_PROGRESS);
    events = master_->WaitEvents(id, events->back().sequence(), absl::ZeroDuration(), &finished);
    EXPECT_TRUE(events.ok() && events->empty() && finished);
    int64_t next_before = -1;
    auto listed = SearchesPage(*master_, 0, 0, &next_before);
    ASSERT_TRUE(listed.ok());
    EXPECT_EQ(next_before, 0);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->front().trials_done(), static_cast<int64_t>(n));
  };
  check("finished");
  // /metrics still shows it for forget_after_ms.
  ASSERT_EQ(master_->Current().size(), 1u);
  EXPECT_EQ(master_->Current()[0].search_id(), id);
  clock_.AdvanceMs(MasterOptions().forget_after_ms + 1);
  EXPECT_TRUE(master_->Current().empty());
  const MasterStats before = master_->Stats();
  Open();
  check("after a restart");
  const MasterStats after = master_->Stats();
  EXPECT_EQ(after.genomes_done, before.genomes_done);
  EXPECT_GT(after.genomes_done, 10);
  EXPECT_EQ(after.ledger_entries, before.ledger_entries);
}

// A strategy log that does not replay (a bug, a hand-edited database) fails its own
// search at start, naming it; the master and the other searches go on.
// Issue 33: a ledger the store cannot read is an error, never "never trained": the
// second search of the same genomes fails loudly instead of training them all again.
TEST_F(MasterTest, ALedgerThatCannotBeReadFailsTheStepAndTrainsNothingAgain) {
  auto first = master_->Submit(SmallSpec(5));
  ASSERT_TRUE(first.ok());
  RegisterWorker("w1");
  const int trained = RunWorker("w1");
  ASSERT_GT(trained, 0);
  ASSERT_TRUE(db_->Exec("ALTER TABLE ledger RENAME TO ledger_elsewhere").ok());
  auto second = master_->Submit(SmallSpec(5));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("ledger"));
  // The master stops, as for any failure of its store, with nothing queued to train.
  v1::AcquireRequest acquire;
  acquire.set_worker_id("w1");
  acquire.set_incarnation(1);
  auto next = master_->Acquire(acquire);
  EXPECT_TRUE(!next.ok() || !next->has_assignment());
  EXPECT_EQ(master_->Stats().genomes_done, trained);
}

TEST_F(MasterTest, ALogThatDoesNotReplayFailsItsSearchNotTheMaster) {
  auto broken = master_->Submit(SmallSpec(1));
  auto healthy = master_->Submit(SmallSpec(2));
  ASSERT_TRUE(broken.ok() && healthy.ok());
  master_.reset();
  {
    auto db = store::Database::Open(dir_.File("m.db"), store::Durability::kProcess);
    ASSERT_TRUE(db.ok());
    ASSERT_THAT((*db)->Exec(absl::StrCat("UPDATE strategy_ops SET genome_id = genome_id + 1000 "
                                         "WHERE search_id = ",
                                         broken->search_id(), " AND seq = 3")),
                IsOk());
  }
  Open();
  auto failed = master_->Get(broken->search_id());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->state(), v1::FAILED);
  EXPECT_THAT(failed->error(), HasSubstr(absl::StrCat("search ", broken->search_id())));
  EXPECT_THAT(failed->error(), HasSubstr("diverged"));
  EXPECT_EQ(master_->Get(healthy->search_id())->state(), v1::RUNNING);
  RegisterWorker("w1");
  RunWorker("w1");
  EXPECT_EQ(master_->Get(healthy->search_id())->state(), v1::SUCCEEDED);
}

// List pages through running and finished searches alike, newest first.
TEST_F(MasterTest, ListPagesThroughRunningAndFinishedSearches) {
  auto a = master_->Submit(SmallSpec(1));
  RegisterWorker("w1");
  RunWorker("w1");
  auto b = master_->Submit(SmallSpec(2));
  auto c = master_->Submit(SmallSpec(3));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_THAT(master_->Cancel(c->search_id()).status(), IsOk());
  std::vector<int64_t> seen;
  int64_t before = 0;
  do {
    auto page = SearchesPage(*master_, before, 1, &before);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->size(), 1u);
    seen.push_back(page->front().search_id());
  } while (before != 0);
  EXPECT_THAT(seen, ::testing::ElementsAre(c->search_id(), b->search_id(), a->search_id()));
  int64_t next = -1;
  auto all = SearchesPage(*master_, 0, 0, &next);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_EQ(next, 0);
  EXPECT_EQ((*all)[1].state(), v1::RUNNING);
  EXPECT_EQ((*all)[2].state(), v1::SUCCEEDED);
}

// A cancelled search stays in memory while workers still hold its genomes, and
// retires when the last of them reports.
TEST_F(MasterTest, ACancelledSearchRetiresWhenItsLastLeaseEnds) {
  auto submitted = master_->Submit(SmallSpec());
  const int64_t id = submitted->search_id();
  RegisterWorker("w1");
  auto a = Acquire("w1");
  auto b = Acquire("w1");
  ASSERT_TRUE(a.has_value() && b.has_value());
  ASSERT_THAT(master_->Cancel(id).status(), IsOk());
  EXPECT_EQ(master_->Running().size(), 1u);
  auto stop = master_->Heartbeat(Progress(*a, 1));
  ASSERT_TRUE(stop.ok());
  EXPECT_TRUE(stop->stop());
  ASSERT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
  EXPECT_EQ(master_->Running().size(), 1u);
  ASSERT_TRUE(master_->Report(Result(*b, "w1"))->accepted());
  EXPECT_TRUE(master_->Running().empty());
  auto summary = master_->Get(id);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->state(), v1::CANCELLED);
  EXPECT_EQ(summary->trials_done(), 2);
  EXPECT_EQ(summary->trials_running(), 0);
  // A repeat of a report is still answered, from the lease table alone.
  EXPECT_TRUE(master_->Report(Result(*b, "w1"))->accepted());
}

// A master stopped while an ended search's genome was leased abandons it at start
// (the lease was not restored) and retires the search.
TEST_F(MasterTest, AnEndedSearchStillLeasedAtARestartRetires) {
  auto submitted = master_->Submit(SmallSpec());
  const int64_t id = submitted->search_id();
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_THAT(master_->Cancel(id).status(), IsOk());
  Open();
  EXPECT_TRUE(master_->Running().empty());
  auto trials = AllTrials(*master_, id);
  ASSERT_TRUE(trials.ok());
  EXPECT_EQ((*trials)[a->genome().id() - 1].state(), v1::ABANDONED);
  RegisterWorker("w1");
  auto late = master_->Report(Result(*a, "w1"));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_FALSE(late->accepted());
}

// What only fencing and the worker list need goes after forget_after_ms.
TEST_F(MasterTest, ReportedLeasesAndIdleWorkersAreForgotten) {
  MasterOptions options = TestOptions();
  options.lease_ms = 100'000;
  options.forget_after_ms = 10'000;
  Open(store::Durability::kProcess, options);
  ASSERT_TRUE(master_->Submit(SmallSpec()).ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  auto a = Acquire("w1");
  auto b = Acquire("w2");
  ASSERT_TRUE(master_->Report(Result(*a, "w1"))->accepted());
  clock_.AdvanceMs(9'000);
  ASSERT_THAT(master_->Tick(), IsOk());
  EXPECT_TRUE(master_->Report(Result(*a, "w1"))->accepted());  // a repeat, remembered
  EXPECT_EQ(master_->Workers().size(), 2u);
  clock_.AdvanceMs(1'000);
  ASSERT_THAT(master_->Tick(), IsOk());
  auto repeat = master_->Report(Result(*a, "w1"));
  ASSERT_TRUE(repeat.ok());
  EXPECT_FALSE(repeat->accepted());  // forgotten: answered as fenced, the result stays
  // w1 was idle 10 s and holds nothing; w2 holds a lease.
  auto workers = master_->Workers();
  ASSERT_EQ(workers.size(), 1u);
  EXPECT_EQ(workers[0].worker_id, "w2");
  v1::AcquireRequest forgotten;
  forgotten.set_worker_id("w1");
  forgotten.set_incarnation(1);
  EXPECT_TRUE(absl::IsFailedPrecondition(master_->Acquire(forgotten).status()));
}

}  // namespace
}  // namespace deepevolve::master

namespace deepevolve::master {
namespace {

class MasterTrustTest : public MasterTest {
 protected:
  v1::ReportRequest SetupFailure(const v1::Assignment& a, const std::string& worker) {
    v1::ReportRequest r = Result(a, worker);
    r.set_ok(false);
    r.set_accuracy(0);
    r.set_test_accuracy(0);
    r.set_failure_kind(v1::FAILURE_KIND_SETUP);
    r.set_error(absl::StrCat("worker ", worker,
                             ": NOT_FOUND: dataset fashion_mnist: no file "
                             "train-images-idx3-ubyte"));
    return r;
  }
  const v1::Trial& TrialOf(int64_t search_id, int64_t genome_id) {
    trials_ = *AllTrials(*master_, search_id);
    for (const v1::Trial& t : trials_) {
      if (t.genome().id() == genome_id) return t;
    }
    ADD_FAILURE() << "no trial for genome " << genome_id;
    return trials_.front();
  }
  std::vector<v1::Trial> trials_;
  bool finished_ = false;
};

TEST_F(MasterTrustTest, OnlyTheLeasesHolderMayReportOrHeartbeat) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  const int64_t events = Rows("events");

  v1::ReportRequest forged = Result(*a, "w2");
  forged.set_accuracy(0.99);
  EXPECT_THAT(master_->Report(forged),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not held by worker w2")));
  v1::ReportRequest other_life = Result(*a, "w1");
  other_life.set_incarnation(9);
  EXPECT_TRUE(absl::IsPermissionDenied(master_->Report(other_life).status()));
  v1::HeartbeatRequest h;
  h.set_lease_id(a->lease_id());
  h.set_worker_id("w2");
  h.set_incarnation(1);
  h.set_epoch(1);
  EXPECT_TRUE(absl::IsPermissionDenied(master_->Heartbeat(h).status()));

  const MasterStats stats = master_->Stats();
  EXPECT_EQ(stats.reports_refused, 2);
  EXPECT_EQ(stats.heartbeats_refused, 1);
  EXPECT_EQ(stats.ledger_entries, 0);
  EXPECT_EQ(Rows("events"), events);
  EXPECT_EQ(TrialOf(submitted->search_id(), a->genome().id()).state(), v1::LEASED);
  // The holder's own report still counts, with its own accuracy.
  auto own = master_->Report(Result(*a, "w1"));
  ASSERT_THAT(own, IsOk());
  EXPECT_TRUE(own->accepted());
  EXPECT_DOUBLE_EQ(TrialOf(submitted->search_id(), a->genome().id()).accuracy(),
                   FakeAccuracy(a->genome().hash()));
}

TEST_F(MasterTrustTest, SubmissionsBeyondTheRunningSearchLimitAreRefused) {
  MasterOptions options = TestOptions();
  options.max_running_searches = 2;
  Open(store::Durability::kProcess, options);
  auto first = master_->Submit(SmallSpec(1));
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(master_->Submit(SmallSpec(2)), IsOk());
  EXPECT_THAT(master_->Submit(SmallSpec(3)),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2 searches are running")));
  ASSERT_THAT(master_->Cancel(first->search_id()), IsOk());
  EXPECT_THAT(master_->Submit(SmallSpec(3)), IsOk());
}

TEST_F(MasterTrustTest, AHungTrialIsRequeuedOnceItRunsPastItsTimeBudget) {
  MasterOptions options = TestOptions();
  options.max_epoch_ms = 5000;
  Open(store::Durability::kProcess, options);
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_THAT(submitted, IsOk());
  RegisterWorker("hung");
  RegisterWorker("w2");
  auto a = Acquire("hung");
  ASSERT_TRUE(a.has_value());
  v1::HeartbeatRequest h;
  h.set_lease_id(a->lease_id());
  h.set_worker_id("hung");
  h.set_incarnation(1);
  // Its heartbeat thread keeps the lease alive; no epoch ever finishes.
  for (int i = 0; i < 9; ++i) {
    clock_.AdvanceMs(500);
    auto beat = master_->Heartbeat(h);
    ASSERT_THAT(beat, IsOk());
    EXPECT_FALSE(beat->stop());
    ASSERT_THAT(master_->Tick(), IsOk());
  }
  EXPECT_EQ(TrialOf(submitted->search_id(), a->genome().id()).state(), v1::LEASED);
  clock_.AdvanceMs(500);  // 5 s without an epoch
  ASSERT_THAT(master_->Heartbeat(h), IsOk());
  ASSERT_THAT(master_->Tick(), IsOk());
  const v1::Trial& t = TrialOf(submitted->search_id(), a->genome().id());
  EXPECT_EQ(t.state(), v1::QUEUED);
  EXPECT_EQ(t.lost(), 1);
  EXPECT_TRUE(master_->Heartbeat(h)->stop());  // the hung worker is told to stop
  auto again = Acquire("w2");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->genome().id(), a->genome().id());
  // Epochs that keep coming keep a long trial alive: 4 s each, 16 s allowed after each.
  h.set_lease_id(again->lease_id());
  h.set_worker_id("w2");
  for (int epoch = 1; epoch <= 4; ++epoch) {
    clock_.AdvanceMs(4000);
    h.set_epoch(epoch);
    ASSERT_THAT(master_->Heartbeat(h), IsOk());
    ASSERT_THAT(master_->Tick(), IsOk());
  }
  EXPECT_EQ(TrialOf(submitted->search_id(), a->genome().id()).state(), v1::LEASED);
  auto events = master_->WaitEvents(submitted->search_id(), 0, absl::ZeroDuration(), &finished_);
  ASSERT_THAT(events, IsOk());
  bool told = false;
  for (const v1::Event& e : *events) told |= absl::StrContains(e.message(), "time budget");
  EXPECT_TRUE(told);
}

TEST_F(MasterTrustTest, AFinishedSearchKeepsItsGenerationAcrossARestart) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_THAT(submitted, IsOk());
  RegisterWorker("w1");
  RunWorker("w1");
  auto before = master_->Get(submitted->search_id());
  ASSERT_EQ(before->state(), v1::SUCCEEDED);
  EXPECT_EQ(before->generation(), 3);
  Open();
  EXPECT_EQ(master_->Get(submitted->search_id())->generation(), 3);
}

TEST_F(MasterTrustTest, WorkerIdsAndDeviceNamesArePlainNames) {
  for (const char* id : {"<img src=x onerror=alert(1)>", "w 1", "-w", "w\n", ""}) {
    v1::RegisterRequest r;
    r.set_worker_id(id);
    EXPECT_THAT(master_->Register(r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("worker_id")))
        << id;
  }
  v1::RegisterRequest r;
  r.set_worker_id("gpu-node-1/slot-0");
  r.add_devices()->set_name("cuda:0");
  EXPECT_THAT(master_->Register(r), IsOk());
  r.add_devices()->set_name("<script>");
  EXPECT_THAT(master_->Register(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("devices[1].name")));
  EXPECT_EQ(master_->Workers().size(), 1u);
}

TEST_F(MasterTrustTest, ASetupFailureRequeuesTheGenomeUncountedAndOutOfTheLedger) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  RegisterWorker("w1");
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  auto response = master_->Report(SetupFailure(*a, "w1"));
  ASSERT_THAT(response, IsOk());
  EXPECT_TRUE(response->accepted());
  const v1::Trial& t = TrialOf(submitted->search_id(), a->genome().id());
  EXPECT_EQ(t.state(), v1::QUEUED);
  EXPECT_EQ(t.attempts(), 0);
  EXPECT_EQ(t.setup_failures(), 1);
  EXPECT_THAT(t.error(), HasSubstr("train-images"));
  EXPECT_EQ(master_->Stats().ledger_entries, 0);
  EXPECT_EQ(master_->Stats().setup_failures, 1);
  // Back at the front of the queue.
  auto again = Acquire("w1");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->genome().id(), a->genome().id());
}

TEST_F(MasterTrustTest, AWorkerThatCannotSetUpIsLeftOutAndASearchNoWorkerCanRunFails) {
  auto submitted = master_->Submit(SmallSpec());
  ASSERT_TRUE(submitted.ok());
  RegisterWorker("w1");
  RegisterWorker("w2");
  for (int i = 0; i < SearchRun::kSetupFailuresToExclude; ++i) {
    auto a = Acquire("w1");
    ASSERT_TRUE(a.has_value());
    ASSERT_THAT(master_->Report(SetupFailure(*a, "w1")), IsOk());
  }
  EXPECT_FALSE(Acquire("w1").has_value());  // w1 gets no more of this search
  EXPECT_EQ(master_->Get(submitted->search_id())->state(), v1::RUNNING);
  for (int i = 0; i < SearchRun::kSetupFailuresToExclude; ++i) {
    auto a = Acquire("w2");
    ASSERT_TRUE(a.has_value());
    ASSERT_THAT(master_->Report(SetupFailure(*a, "w2")), IsOk());
  }
  auto summary = master_->Get(submitted->search_id());
  EXPECT_EQ(summary->state(), v1::FAILED);
  EXPECT_THAT(summary->error(), HasSubstr("no registered worker can set up"));
  EXPECT_THAT(summary->error(), HasSubstr("dataset fashion_mnist"));
  EXPECT_EQ(summary->failed(), 0);  // no genome was blamed
  EXPECT_EQ(master_->Stats().ledger_entries, 0);
}

// A search on a trainer program: two numeric genes of the program's own.
v1::SearchSpec ProgramSpec(const std::string& trainer) {
  v1::SearchSpec spec;
  spec.mutable_task()->set_trainer(trainer);
  spec.mutable_task()->set_dataset("toy");
  spec.mutable_task()->set_epochs(3);
  v1::Gene* lr = spec.mutable_space()->add_genes();
  lr->set_name("learning_rate");
  for (double v : {0.1, 0.03, 0.01, 0.003}) lr->add_values()->set_float_value(v);
  v1::Gene* l2 = spec.mutable_space()->add_genes();
  l2->set_name("l2");
  for (double v : {0.0, 0.001, 0.01}) l2->add_values()->set_float_value(v);
  spec.mutable_steady_state()->set_population(4);
  spec.mutable_steady_state()->set_tournament_size(2);
  spec.mutable_steady_state()->set_trials(6);
  spec.set_seed(11);
  return spec;
}

class MasterTrainerTest : public MasterTrustTest {
 protected:
  void RegisterOffering(const std::string& id, std::vector<std::string> trainers, bool builtin) {
    v1::RegisterRequest r;
    r.set_worker_id(id);
    r.set_incarnation(1);
    for (const std::string& t : trainers) r.add_trainers(t);
    r.set_no_builtin_trainer(!builtin);
    ASSERT_THAT(master_->Register(r), IsOk());
  }
  int Cached(int64_t search_id) {
    int n = 0;
    // Kept: a range over *AllTrials(...) would outlive the StatusOr it points into.
    auto trials = AllTrials(*master_, search_id);
    EXPECT_THAT(trials, IsOk());
    if (!trials.ok()) return -1;
    for (const v1::Trial& t : *trials) n += t.state() == v1::CACHED;
    return n;
  }
};

TEST_F(MasterTrainerTest, ASearchGoesOnlyToWorkersOfferingItsTrainerAndSaysWhileNoneDoes) {
  auto search = master_->Submit(ProgramSpec("toy@1"));
  ASSERT_THAT(search, IsOk());
  EXPECT_THAT(search->waiting(), HasSubstr("no worker has registered"));
  RegisterOffering("builtin", {}, true);
  RegisterOffering("v2", {"toy@2"}, false);
  EXPECT_FALSE(Acquire("builtin").has_value());
  EXPECT_FALSE(Acquire("v2").has_value());
  auto summary = master_->Get(search->search_id());
  EXPECT_EQ(summary->waiting(),
            "no registered worker offers trainer 'toy@1' (workers offer: the built-in trainer, "
            "toy@2)");
  // The same for the listings.
  EXPECT_EQ(master_->Running().front().waiting(), summary->waiting());

  RegisterOffering("v1", {"toy@1", "other"}, false);
  EXPECT_EQ(master_->Get(search->search_id())->waiting(), "");
  auto a = Acquire("v1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->task().trainer(), "toy@1");
  EXPECT_EQ(a->task().dataset(), "toy");
  EXPECT_THAT(a->gene_names(), ::testing::ElementsAre("learning_rate", "l2"));

  // A built-in search is not handed to a worker that offers programs only.
  auto builtin = master_->Submit(SmallSpec());
  ASSERT_THAT(builtin, IsOk());
  EXPECT_EQ(builtin->waiting(), "");
  for (int i = 0; i < 3; ++i) {
    auto b = Acquire("v1");
    if (b.has_value()) {
      EXPECT_EQ(b->search_id(), search->search_id());
    }
  }
  auto c = Acquire("builtin");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->search_id(), builtin->search_id());
}

TEST_F(MasterTrainerTest, TwoVersionsOfATrainerKeepSeparateLedgerEntries) {
  RegisterOffering("v1", {"toy@1"}, false);
  RegisterOffering("v2", {"toy@2"}, false);
  auto first = master_->Submit(ProgramSpec("toy@1"));
  ASSERT_THAT(first, IsOk());
  const int trained = RunWorker("v1");
  EXPECT_EQ(master_->Get(first->search_id())->state(), v1::SUCCEEDED);
  EXPECT_EQ(master_->Stats().ledger_entries, trained);

  // The same genomes on version 2 are trained again, by its worker only.
  auto second = master_->Submit(ProgramSpec("toy@2"));
  ASSERT_THAT(second, IsOk());
  EXPECT_FALSE(Acquire("v1").has_value());
  EXPECT_EQ(RunWorker("v2"), trained);
  EXPECT_EQ(Cached(second->search_id()), 0);
  EXPECT_EQ(master_->Stats().ledger_entries, 2 * trained);

  // Version 1 again: every genome comes from its own entries.
  auto third = master_->Submit(ProgramSpec("toy@1"));
  ASSERT_THAT(third, IsOk());
  EXPECT_EQ(RunWorker("v1"), 0);
  EXPECT_EQ(Cached(third->search_id()), trained);
  EXPECT_EQ(master_->Get(third->search_id())->state(), v1::SUCCEEDED);
}

TEST_F(MasterTrainerTest, ANameWithoutAVersionRunsOnTheNewestVersionOfferedAtSubmission) {
  // Submitted before any worker offers it, the name stays as it is, and the search
  // says why it waits; the first worker that offers versions of it pins the search to
  // its newest (issue: a search never waits for something that already happened), and
  // later workers change nothing.
  auto early = master_->Submit(ProgramSpec("toy"));
  ASSERT_THAT(early, IsOk());
  EXPECT_EQ(early->spec().task().trainer(), "toy");
  EXPECT_THAT(master_->Get(early->search_id())->waiting(), HasSubstr("no worker has registered"));

  RegisterOffering("a", {"toy@2", "toy@1.9", "other@99"}, false);
  EXPECT_EQ(master_->Get(early->search_id())->spec().task().trainer(), "toy@2");
  EXPECT_EQ(master_->Get(early->search_id())->waiting(), "");
  RegisterOffering("b", {"toy@1.10", "toy@10", "toyota@11"}, false);
  EXPECT_EQ(master_->Get(early->search_id())->spec().task().trainer(), "toy@2");
  // Pinned durably: a restarted master runs it on the same version.
  Open();
  EXPECT_EQ(master_->Get(early->search_id())->spec().task().trainer(), "toy@2");
  ASSERT_THAT(master_->Cancel(early->search_id()), IsOk());
  RegisterOffering("a", {"toy@2", "toy@1.9", "other@99"}, false);
  RegisterOffering("b", {"toy@1.10", "toy@10", "toyota@11"}, false);

  // Versions compare part by part, numbers as numbers: 10 is the newest.
  auto search = master_->Submit(ProgramSpec("toy"));
  ASSERT_THAT(search, IsOk());
  EXPECT_EQ(search->spec().task().trainer(), "toy@10");
  EXPECT_EQ(master_->Get(search->search_id())->spec().task().trainer(), "toy@10");
  EXPECT_FALSE(Acquire("a").has_value());
  auto assigned = Acquire("b");
  ASSERT_TRUE(assigned.has_value());
  EXPECT_EQ(assigned->search_id(), search->search_id());
  EXPECT_EQ(assigned->task().trainer(), "toy@10");

  // A named version is kept even when a newer one is offered, and a worker offering the
  // bare name keeps a bare search bare.
  EXPECT_EQ(master_->Submit(ProgramSpec("toy@1.9"))->spec().task().trainer(), "toy@1.9");
  RegisterOffering("c", {"toy"}, false);
  EXPECT_EQ(master_->Submit(ProgramSpec("toy"))->spec().task().trainer(), "toy");
}

TEST_F(MasterTrainerTest, WorkersMayOfferOnlyWellNamedTrainers) {
  v1::RegisterRequest r;
  r.set_worker_id("w");
  r.set_incarnation(1);
  r.add_trainers("rm -rf /");
  EXPECT_THAT(master_->Register(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("trainers[0]: 'rm -rf /' is not")));
  r.clear_trainers();
  for (int i = 0; i <= kMaxWorkerTrainers; ++i) r.add_trainers(absl::StrCat("t", i));
  EXPECT_THAT(master_->Register(r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trainers: more than")));
}

}  // namespace
}  // namespace deepevolve::master

namespace deepevolve::master {
namespace {

// --- Population-based training through the master ---

class PbtMasterTest : public MasterTest {
 protected:
  static v1::SearchSpec PbtSpec(uint64_t seed = 3, int ready_epochs = 1) {
    v1::SearchSpec spec;
    spec.set_preset("fashion_mnist_mlp_full");
    spec.mutable_pbt()->set_population(4);
    spec.mutable_pbt()->set_ready_epochs(ready_epochs);
    spec.set_seed(seed);
    return spec;
  }
  // What a worker's checkpoint holds here: whose state it is, after which epoch.
  static std::string StateOf(const std::string& hash, int epoch) {
    return absl::StrCat("state of ", hash, " after ", epoch);
  }
  // Trains each round handed out as the worker loop would: fetches the checkpoint it
  // goes on from (checking it is the one the assignment names), sends every epoch's
  // progress with its checkpoint, reports the round's last epoch. Up to `max_trials`.
  int RunPbtWorker(const std::string& worker, int max_trials = 1 << 30) {
    int n = 0;
    while (n < max_trials) {
      auto a = Acquire(worker);
      if (!a.has_value()) break;
      const int epochs = a->task().epochs();
      if (a->resume_epoch() > 0) {
        auto got = master_->GetCheckpoint(CheckpointFor(*a, worker));
        EXPECT_THAT(got, IsOk());
        const std::string& of =
            a->has_resume_genome() ? a->resume_genome().hash() : a->genome().hash();
        if (got.ok()) EXPECT_EQ(got->data, StateOf(of, a->resume_epoch()));
      }
      const int last = a->stop_epoch() > 0 ? a->stop_epoch() : epochs;
      double accuracy = 0;
      for (int e = a->resume_epoch() + 1; e <= last; ++e) {
        accuracy = FakeAccuracy(a->genome().hash(), e, epochs);
        v1::HeartbeatRequest h = testing::EpochHeartbeat(*a, worker, 1, e, accuracy);
        h.set_resumed_from_epoch(a->resume_epoch());
        auto saved = master_->SaveCheckpoint(h, StateOf(a->genome().hash(), e));
        EXPECT_TRUE(saved.ok() && saved->accepted()) << (saved.ok() ? saved->reason() : "");
      }
      v1::ReportRequest r = Result(*a, worker);
      r.set_accuracy(accuracy);
      r.set_epochs_run(last);
      auto response = master_->Report(r);
      EXPECT_TRUE(response.ok() && response->accepted());
      ++n;
    }
    return n;
  }
  // The search's trials, by id.
  std::map<int64_t, v1::Trial> TrialsById(int64_t search_id) {
    std::map<int64_t, v1::Trial> out;
    auto trials = AllTrials(*master_, search_id);
    EXPECT_THAT(trials, IsOk());
    if (trials.ok()) {
      for (const v1::Trial& t : *trials) out[t.genome().id()] = t;
    }
    return out;
  }
};

TEST_F(PbtMasterTest, MembersTrainRoundByRoundFromEachOthersCheckpoints) {
  auto submitted = master_->Submit(PbtSpec());
  ASSERT_THAT(submitted, IsOk());
  EXPECT_EQ(submitted->trials_planned(), 16);  // 4 members x 4 rounds of an epoch
  RegisterWorker("w1");
  // The first round, whole: then every checkpoint its members left is kept.
  EXPECT_EQ(RunPbtWorker("w1", 4), 4);
  std::map<int64_t, v1::Trial> trials = TrialsById(1);
  ASSERT_EQ(trials.size(), 8u);  // the second round was decided as the first ended
  std::set<int64_t> gone_on_from;
  for (const auto& [id, t] : trials) {
    if (id <= 4) continue;
    EXPECT_EQ(t.start_epoch(), 1);
    EXPECT_EQ(t.stop_epoch(), 2);
    gone_on_from.insert(t.genome().parents(0));
    // Its curve begins with the round it goes on from.
    ASSERT_EQ(t.curve_size(), 1);
    EXPECT_EQ(t.curve(0).val_accuracy(), trials[t.genome().parents(0)].curve(0).val_accuracy());
  }
  // The bottom member copied another: its own first round's state is not kept.
  EXPECT_EQ(gone_on_from.size(), 3u);
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 3);

  EXPECT_EQ(RunPbtWorker("w1"), 12);
  auto summary = master_->Get(1);
  EXPECT_EQ(summary->state(), v1::SUCCEEDED);
  EXPECT_EQ(summary->trials_done(), 16);
  EXPECT_EQ(summary->epochs_trained(), 16);  // each epoch of each member once
  EXPECT_EQ(summary->generation(), 4);
  EXPECT_EQ(CheckpointFilesIn(dir_.File("m.db.checkpoints")), 0);
  EXPECT_EQ(master_->Stats().checkpoints, 0);
  trials = TrialsById(1);
  std::set<std::string> schedules;
  for (const auto& [id, t] : trials) {
    EXPECT_TRUE(schedules.insert(t.genome().hash()).second) << "a schedule trained twice";
    const int round = t.genome().generation();
    EXPECT_EQ(t.stop_epoch(), round == 4 ? 0 : round);
    // Its lineage's rounds, the epochs under the same genes joined: each epoch once.
    EXPECT_TRUE(absl::StartsWith(t.schedule(), "1-")) << t.schedule();
    const std::string ends = absl::StrCat("-", round == 4 ? 4 : round, ": ");
    EXPECT_TRUE(absl::StrContains(t.schedule(), ends)) << t.schedule();
    const bool copied = trials[t.genome().parents(0)].member() != t.member();
    if (round > 1 && !copied) {
      EXPECT_FALSE(absl::StrContains(t.schedule(), absl::StrCat(round, "-", round, ": ")))
          << "not joined to the round before: " << t.schedule();
    }
  }
  // The final rounds lead the leaderboard; earlier rounds follow as partial results.
  auto board = Top(*master_, 1, 16);
  ASSERT_THAT(board, IsOk());
  ASSERT_EQ(board->size(), 16u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*board)[i].stop_epoch(), 0);
  EXPECT_EQ(summary->best().genome().generation(), 4);
}

TEST_F(PbtMasterTest, ALostRoundResumesFromTheRoundItGoesOnFromOrItsOwnCheckpoint) {
  ASSERT_THAT(master_->Submit(PbtSpec(5, /*ready_epochs=*/2)), IsOk());
  RegisterWorker("w1");
  RegisterWorker("w2");
  ASSERT_EQ(RunPbtWorker("w1", 4), 4);
  // A second round (epochs 3 and 4) is lost before its first epoch: the next worker
  // goes on from the round it continues, as the first did.
  auto a = Acquire("w1");
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(a->resume_epoch(), 2);
  ASSERT_TRUE(a->has_resume_genome());
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  auto b = Acquire("w2");
  ASSERT_EQ(b->genome().hash(), a->genome().hash());
  EXPECT_EQ(b->resume_epoch(), 2);
  EXPECT_EQ(b->resume_genome().hash(), a->resume_genome().hash());
  EXPECT_EQ(b->stop_epoch(), 0);  // the last round: to the task's end
  auto got = master_->GetCheckpoint(CheckpointFor(*b, "w2"));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, StateOf(b->resume_genome().hash(), 2));
  // After an epoch of its own it resumes from its own checkpoint.
  ASSERT_TRUE(master_->SaveCheckpoint(CheckpointOf(*b, "w2", 3, 2), StateOf(b->genome().hash(), 3))
                  ->accepted());
  // Fenced: not after the checkpoint it holds.
  auto early = master_->SaveCheckpoint(CheckpointOf(*b, "w2", 2), "early");
  ASSERT_THAT(early, IsOk());
  EXPECT_FALSE(early->accepted());
  EXPECT_THAT(early->reason(), HasSubstr("not after the stored checkpoint's (3)"));
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(master_->Tick().ok());
  RegisterWorker("w3");
  auto c = Acquire("w3");
  ASSERT_EQ(c->genome().hash(), a->genome().hash());
  EXPECT_EQ(c->resume_epoch(), 3);
  EXPECT_FALSE(c->has_resume_genome());
  got = master_->GetCheckpoint(CheckpointFor(*c, "w3"));
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->data, StateOf(c->genome().hash(), 3));
  auto trials = TrialsById(1);
  const v1::Trial& t = trials[c->genome().id()];
  EXPECT_EQ(t.lost(), 2);
  EXPECT_EQ(t.resumes(), 1);  // from its own checkpoint; the first went on as planned
}

TEST_F(PbtMasterTest, ARestartAnywhereGivesTheSameSchedules) {
  const v1::SearchSpec spec = PbtSpec(9);
  auto first = master_->Submit(spec);
  RegisterWorker("w1");
  RunPbtWorker("w1");
  auto uninterrupted = Top(*master_, first->search_id(), 100);
  ASSERT_THAT(uninterrupted, IsOk());
  ASSERT_EQ(uninterrupted->size(), 16u);

  master_.reset();
  fs::remove(dir_.File("m.db"));
  fs::remove_all(dir_.File("m.db.checkpoints"));
  Open();
  auto second = master_->Submit(spec);
  for (int round = 0; round < 100; ++round) {
    RegisterWorker("w1");
    if (RunPbtWorker("w1", 3) == 0) break;
    Open();
  }
  EXPECT_EQ(master_->Get(second->search_id())->state(), v1::SUCCEEDED);
  auto restarted = Top(*master_, second->search_id(), 100);
  ASSERT_THAT(restarted, IsOk());
  ASSERT_EQ(restarted->size(), uninterrupted->size());
  for (size_t i = 0; i < restarted->size(); ++i) {
    EXPECT_EQ((*restarted)[i].genome().hash(), (*uninterrupted)[i].genome().hash()) << i;
    EXPECT_EQ((*restarted)[i].schedule(), (*uninterrupted)[i].schedule()) << i;
  }
}

TEST_F(PbtMasterTest, ASpecPbtCannotRunIsRefusedSayingWhy) {
  v1::SearchSpec spec = PbtSpec();
  spec.mutable_checkpoint()->set_disabled(true);
  EXPECT_THAT(master_->Submit(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("goes on from checkpoints")));
  spec = PbtSpec();
  spec.mutable_pruner()->mutable_asha();
  EXPECT_THAT(master_->Submit(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leave the pruner out")));
  spec = PbtSpec();
  spec.set_preset("fashion_mnist_mlp");  // four architecture genes, no training gene
  spec.mutable_space()->Clear();
  EXPECT_THAT(master_->Submit(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the space has none")));
  spec = PbtSpec();
  spec.mutable_pbt()->set_quantile(0.6);
  EXPECT_THAT(master_->Submit(spec),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pbt.quantile")));
}

}  // namespace
}  // namespace deepevolve::master
