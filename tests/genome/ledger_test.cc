#include "genome/ledger.h"

#include "gtest/gtest.h"

namespace deepevolve::genome {
namespace {

TEST(InMemoryLedgerTest, LookupInsertCount) {
  InMemoryLedger ledger;
  const LedgerKey a{"53e7608376c791312050ef5ab4b95bf9", "task1"};
  const LedgerKey b{"53e7608376c791312050ef5ab4b95bf9", "task2"};
  EXPECT_EQ(ledger.Count(), 0);
  EXPECT_FALSE(ledger.Lookup(a)->has_value());
  TrialResult r;
  r.accuracy = 0.875;
  r.test_accuracy = 0.86;
  ASSERT_TRUE(ledger.Insert(a, r).ok());
  ASSERT_TRUE(ledger.Lookup(a)->has_value());
  EXPECT_EQ(ledger.Lookup(a).value()->accuracy, 0.875);
  EXPECT_FALSE(ledger.Lookup(b)->has_value());  // same genome, other task
  EXPECT_EQ(ledger.Insert(a, r).code(), absl::StatusCode::kAlreadyExists);
  TrialResult failed;
  failed.ok = false;
  failed.error = "shape collapses";
  ASSERT_TRUE(ledger.Insert(b, failed).ok());
  EXPECT_EQ(ledger.Count(), 2);
  EXPECT_FALSE(ledger.Lookup(b).value()->ok);
}

TEST(InMemoryLedgerTest, OnlyAFullResultReplacesAPrunedOne) {
  InMemoryLedger ledger;
  const LedgerKey a{"53e7608376c791312050ef5ab4b95bf9", "task1"};
  TrialResult pruned;
  pruned.accuracy = 0.6;
  pruned.pruned = true;
  TrialResult full;
  full.accuracy = 0.8;
  ASSERT_TRUE(ledger.Insert(a, pruned).ok());
  EXPECT_EQ(ledger.Insert(a, pruned).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(ledger.Insert(a, full).ok());
  EXPECT_FALSE(ledger.Lookup(a).value()->pruned);
  EXPECT_EQ(ledger.Insert(a, pruned).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ledger.Count(), 1);
}

}  // namespace
}  // namespace deepevolve::genome
