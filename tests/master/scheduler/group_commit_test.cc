#include "master/scheduler/group_commit.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::master {
namespace {

using ::deepevolve::testing::IsOk;
using ::deepevolve::testing::StatusIs;
using ::testing::HasSubstr;

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::Store::Open(dir_.File("g.db"), store::Durability::kFull);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    ledger_ = std::make_unique<store::SqliteLedger>(store_.get());
    commit_ = std::make_unique<GroupCommit>(&mu_, store_.get(), ledger_.get(),
                                            [this] { ++broken_calls_; });
    absl::MutexLock lock(&mu_);
    auto search = store_->InsertSearch(v1::SearchSummary());
    ASSERT_THAT(search, IsOk());
    search_id_ = *search;
  }

  v1::Trial Trial(int64_t genome_id) const {
    v1::Trial t;
    t.set_search_id(search_id_);
    t.mutable_genome()->set_id(genome_id);
    return t;
  }
  // The genome ids of the stored trials.
  std::vector<int64_t> Stored() {
    std::vector<int64_t> ids;
    auto trials = store_->LoadTrials(search_id_);
    EXPECT_THAT(trials, IsOk());
    for (const v1::Trial& t : *trials) ids.push_back(t.genome().id());
    return ids;
  }

  ::deepevolve::testing::TempDir dir_;
  absl::Mutex mu_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::SqliteLedger> ledger_;
  std::unique_ptr<GroupCommit> commit_;
  int broken_calls_ = 0;
  int64_t search_id_ = 0;
};

TEST_F(GroupCommitTest, StepsWrittenBeforeAWaitShareOneCommitAndOneSync) {
  absl::MutexLock lock(commit_->mu());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_THAT(commit_->Step([&] { return store_->PutTrial(Trial(i)); }), IsOk());
  }
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  const GroupCommit::Stats s = commit_->stats();
  EXPECT_EQ(s.steps, 3);
  EXPECT_EQ(s.commits, 1);
  EXPECT_EQ(s.syncs, 1);
  EXPECT_EQ(commit_->commit_seconds().count(), 1);
  EXPECT_EQ(commit_->sync_seconds().count(), 1);
  EXPECT_THAT(Stored(), ::testing::ElementsAre(1, 2, 3));
  // Nothing new: no commit, no sync.
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  EXPECT_EQ(commit_->stats().syncs, 1);
}

TEST_F(GroupCommitTest, AStepThatWritesNothingNeedsNoCommitAndNoSync) {
  absl::MutexLock lock(commit_->mu());
  ASSERT_THAT(commit_->Step([] { return absl::OkStatus(); }), IsOk());
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  EXPECT_EQ(commit_->stats().commits, 0);
  EXPECT_EQ(commit_->stats().syncs, 0);
  // One that writes after it is committed and synced as usual, and so is an empty step
  // that joins a batch with writes in it.
  ASSERT_THAT(commit_->Step([&] { return store_->PutTrial(Trial(1)); }), IsOk());
  ASSERT_THAT(commit_->Step([] { return absl::OkStatus(); }), IsOk());
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  EXPECT_EQ(commit_->stats().commits, 1);
  EXPECT_EQ(commit_->stats().syncs, 1);
  EXPECT_THAT(Stored(), ::testing::ElementsAre(1));
}

TEST_F(GroupCommitTest, ARefusedStepIsRolledBackAloneAndTheRestGoesOn) {
  absl::MutexLock lock(commit_->mu());
  ASSERT_THAT(commit_->Step([&] { return store_->PutTrial(Trial(1)); }), IsOk());
  EXPECT_THAT(commit_->Step([&]() -> absl::Status {
    EXPECT_THAT(store_->PutTrial(Trial(2)), IsOk());
    return absl::InvalidArgumentError("population: must be at least 2");
  }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("population")));
  ASSERT_THAT(commit_->Step([&] { return store_->PutTrial(Trial(3)); }), IsOk());
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  EXPECT_THAT(Stored(), ::testing::ElementsAre(1, 3));
  EXPECT_THAT(commit_->broken(), IsOk());
  EXPECT_EQ(broken_calls_, 0);
}

TEST_F(GroupCommitTest, AnyOtherFailureBreaksItForGood) {
  absl::MutexLock lock(commit_->mu());
  EXPECT_THAT(commit_->Step([] { return absl::InternalError("disk on fire"); }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("disk on fire")));
  EXPECT_EQ(broken_calls_, 1);
  EXPECT_THAT(commit_->Step([] { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("disk on fire")));
  EXPECT_THAT(commit_->AwaitDurable(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("restart the master")));
}

TEST_F(GroupCommitTest, EventsBecomeVisibleOnlyOnceSynced) {
  absl::MutexLock lock(commit_->mu());
  commit_->StartEventsAfter(41);
  int64_t sequence = 0;
  ASSERT_THAT(commit_->Step([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_->mu()) -> absl::Status {
    v1::Event e;
    e.set_search_id(search_id_);
    auto appended = commit_->AppendEvent(e, /*now_ms=*/77);
    if (!appended.ok()) return appended.status();
    sequence = *appended;
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(sequence, 42);
  EXPECT_EQ(commit_->durable_event(), 41);
  ASSERT_THAT(commit_->AwaitDurable(), IsOk());
  EXPECT_EQ(commit_->durable_event(), 42);
  auto events = store_->LoadEvents(search_id_, 0, 42, 10);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].unix_ms(), 77);
  // Nothing more to see: the wait ends at its deadline.
  EXPECT_TRUE(commit_->WaitForEvents(absl::Now()));
}

}  // namespace
}  // namespace deepevolve::master
