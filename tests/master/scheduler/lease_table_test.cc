#include "master/scheduler/lease_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::master {
namespace {

using Kind = LeaseTable::Kind;

LeaseTable::Options Options(int64_t lease_ms, int64_t id_block = 1024) {
  LeaseTable::Options o;
  o.lease_ms = lease_ms;
  o.id_block = id_block;
  o.first_epoch_ms = 10'000;
  o.min_epoch_ms = 500;
  return o;
}
using ::testing::ElementsAre;
using ::testing::Field;

TEST(LeaseTableTest, GrantsIncreasingIdsWithADeadline) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  const Lease a = leases.Grant(1, 10, "w1", /*incarnation=*/1, /*now_ms=*/5000, &reserve);
  const Lease b = leases.Grant(1, 11, "w2", /*incarnation=*/1, 5100, &reserve);
  EXPECT_EQ(a.id, 1);
  EXPECT_EQ(b.id, 2);
  EXPECT_EQ(a.deadline_ms, 6000);
  EXPECT_EQ(b.worker_id, "w2");
  EXPECT_EQ(leases.live(), 2);
}

TEST(LeaseTableTest, ReservesIdsInBlocksAndContinuesAboveThemAfterARestart) {
  LeaseTable leases(Options(1000, /*id_block=*/4));
  std::vector<int64_t> reservations;
  for (int i = 0; i < 10; ++i) {
    int64_t reserve = 0;
    leases.Grant(1, i, "w", /*incarnation=*/1, 0, &reserve);
    if (reserve > 0) reservations.push_back(reserve);
  }
  // Ids 1..10: a reservation at the first grant and whenever the block ran out.
  EXPECT_THAT(reservations, ElementsAre(6, 11));
  LeaseTable restarted(Options(1000, 4));
  restarted.StartIdsAt(reservations.back());
  int64_t reserve = 0;
  EXPECT_EQ(restarted.Grant(1, 0, "w", /*incarnation=*/1, 0, &reserve).id, 11);
  EXPECT_EQ(reserve, 16);
}

TEST(LeaseTableTest, ClassifiesLiveReportedFencedAndUnknownLeases) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  const int64_t live = leases.Grant(1, 10, "w1", /*incarnation=*/1, 0, &reserve).id;
  const int64_t reported = leases.Grant(1, 11, "w1", /*incarnation=*/1, 0, &reserve).id;
  const int64_t dropped = leases.Grant(1, 12, "w1", /*incarnation=*/1, 0, &reserve).id;
  const Lease r = leases.Reported(reported, /*now_ms=*/0);
  EXPECT_EQ(r.genome_id, 11);
  leases.Drop(dropped);
  EXPECT_EQ(leases.Classify(live), Kind::kLive);
  EXPECT_EQ(leases.Classify(reported), Kind::kReported);
  EXPECT_EQ(leases.Classify(dropped), Kind::kFenced);
  EXPECT_EQ(leases.Classify(0), Kind::kUnknown);
  EXPECT_EQ(leases.Classify(-5), Kind::kUnknown);
  EXPECT_EQ(leases.Classify(dropped + 1), Kind::kUnknown);
  EXPECT_EQ(leases.Find(reported), nullptr);
  ASSERT_NE(leases.Find(live), nullptr);
  EXPECT_EQ(leases.Find(live)->genome_id, 10);
}

TEST(LeaseTableTest, ExpiresByDeadlineAndRenewalMovesIt) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  const int64_t a = leases.Grant(1, 10, "w1", /*incarnation=*/1, 0, &reserve).id;
  const int64_t b = leases.Grant(1, 11, "w2", /*incarnation=*/1, 500, &reserve).id;
  EXPECT_FALSE(leases.AnyExpired(999));
  EXPECT_TRUE(leases.AnyExpired(1000));
  EXPECT_THAT(leases.Expired(1000), ElementsAre(Field(&Lease::id, a)));
  leases.Renew(*leases.Find(a), 900);
  EXPECT_THAT(leases.Expired(1500), ElementsAre(Field(&Lease::id, b)));
  EXPECT_THAT(leases.Expired(1900), ElementsAre(Field(&Lease::id, a), Field(&Lease::id, b)));
}

TEST(LeaseTableTest, ALeaseKnowsItsHolder) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  const Lease& lease = leases.Grant(1, 10, "w1", /*incarnation=*/3, 0, &reserve);
  EXPECT_TRUE(lease.HeldBy("w1", 3));
  EXPECT_FALSE(lease.HeldBy("w1", 4));  // a restarted w1
  EXPECT_FALSE(lease.HeldBy("w2", 3));
}

TEST(LeaseTableTest, ATrialThatStopsProgressingRunsPastItsBudgetWhateverItsHeartbeats) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  const int64_t id = leases.Grant(1, 10, "w1", 1, /*now_ms=*/0, &reserve).id;
  // Heartbeats keep the lease but not the trial: the first epoch has 10 s.
  for (int64_t now = 500; now < 10'000; now += 500) {
    leases.Renew(*leases.Find(id), now);
    EXPECT_TRUE(leases.Expired(now).empty()) << now;
  }
  leases.Renew(*leases.Find(id), 10'000);
  EXPECT_EQ(leases.Expired(10'000).size(), 1u);
  EXPECT_TRUE(LeaseTable::OverBudget(*leases.Find(id), 10'000));
}

TEST(LeaseTableTest, EachEpochGrantsFourMeanEpochsMore) {
  LeaseTable leases(Options(100'000));
  int64_t reserve = 0;
  const int64_t id = leases.Grant(1, 10, "w1", 1, 0, &reserve).id;
  Lease& lease = *leases.Find(id);
  leases.Progressed(lease, /*epoch=*/1, /*now_ms=*/2000);  // 2 s an epoch
  EXPECT_EQ(lease.progress_deadline_ms, 2000 + 8000);
  leases.Progressed(lease, 2, 3000);  // 1.5 s an epoch
  EXPECT_EQ(lease.progress_deadline_ms, 3000 + 6000);
  leases.Progressed(lease, 3, 3100);  // fast: at least min_epoch_ms
  EXPECT_EQ(lease.progress_deadline_ms, 3100 + 4133);
  leases.Progressed(lease, 4, 60'000);  // slow: at most first_epoch_ms
  EXPECT_EQ(lease.progress_deadline_ms, 60'000 + 10'000);
}

TEST(LeaseTableTest, ListsTheLeasesOfOneWorker) {
  LeaseTable leases(Options(1000));
  int64_t reserve = 0;
  leases.Grant(1, 10, "w1", /*incarnation=*/1, 0, &reserve);
  leases.Grant(1, 11, "w2", /*incarnation=*/1, 0, &reserve);
  leases.Grant(2, 12, "w1", /*incarnation=*/1, 0, &reserve);
  EXPECT_THAT(leases.HeldBy("w1"),
              ElementsAre(Field(&Lease::genome_id, 10), Field(&Lease::genome_id, 12)));
  EXPECT_TRUE(leases.HeldBy("w3").empty());
}

TEST(LeaseTableTest, RestoredLeasesGetAFullLeaseAndReportedOnesAnswerRepeats) {
  LeaseTable leases(Options(1000));
  leases.StartIdsAt(100);
  leases.Restore(Lease{7, 1, 10, "w1", /*incarnation=*/1}, /*now_ms=*/5000);
  leases.RestoreReported(8, 1, 11, /*now_ms=*/5000);
  ASSERT_NE(leases.Find(7), nullptr);
  EXPECT_EQ(leases.Find(7)->deadline_ms, 6000);
  EXPECT_EQ(leases.Classify(8), Kind::kReported);
  EXPECT_EQ(leases.Classify(9), Kind::kFenced);
}

// Audit F6: after a restart, epochs are timed from the restart, not from epoch 0: a
// trial of 10-minute epochs at epoch 8 is not taken for a hung one.
TEST(LeaseTableTest, ARestoredLeaseTimesItsEpochsFromTheRestart) {
  LeaseTable::Options o = Options(60'000);
  o.first_epoch_ms = 3'600'000;
  o.min_epoch_ms = 60'000;
  LeaseTable leases(o);
  const int64_t t0 = 1'000'000;
  Lease known{7, 1, 10, "w1", 1};
  known.epoch_base = 8;  // its stored curve ends at epoch 8
  leases.Restore(known, t0);
  leases.Progressed(*leases.Find(7), /*epoch=*/9, t0 + 600'000);
  EXPECT_EQ(leases.Find(7)->progress_deadline_ms, t0 + 600'000 + 4 * 600'000);

  Lease unknown{8, 1, 11, "w1", 1};
  unknown.epoch_base = -1;  // no stored curve: the next epoch starts the clock
  leases.Restore(unknown, t0);
  Lease& l = *leases.Find(8);
  leases.Progressed(l, 9, t0 + 600'000);
  EXPECT_EQ(l.progress_deadline_ms, t0 + 600'000 + 3'600'000);
  leases.Progressed(l, 10, t0 + 1'200'000);
  EXPECT_EQ(l.progress_deadline_ms, t0 + 1'200'000 + 4 * 600'000);
  leases.Progressed(l, 9, t0 + 1'300'000);  // a late retry moves nothing
  EXPECT_EQ(l.progress_deadline_ms, t0 + 1'200'000 + 4 * 600'000);
}

}  // namespace
}  // namespace deepevolve::master
