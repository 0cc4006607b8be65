#include "master/store/store.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace deepevolve::store {
namespace {

namespace fs = std::filesystem;

class SqliteLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("store_test_", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    auto store = Store::Open((dir_ / "s.db").string(), Durability::kProcess);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  static ga::LedgerKey Key(int i) { return {absl::StrCat("genome", i), "task"}; }

  fs::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteLedgerTest, TheCountIsKeptThroughInsertsDuplicatesRollbacksAndReopening) {
  {
    SqliteLedger ledger(store_.get());
    EXPECT_EQ(ledger.Count(), 0);
    ga::TrialResult result;
    result.accuracy = 0.8;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ledger.Insert(Key(i), result).ok());
    EXPECT_EQ(ledger.Count(), 3);
    EXPECT_TRUE(absl::IsAlreadyExists(ledger.Insert(Key(1), result)));
    EXPECT_EQ(ledger.Count(), 3);

    // An insert undone by a rollback: the kept count is dropped and counted again.
    ASSERT_TRUE(store_->db().Exec("BEGIN; SAVEPOINT step;").ok());
    ASSERT_TRUE(ledger.Insert(Key(7), result).ok());
    EXPECT_EQ(ledger.Count(), 4);
    ASSERT_TRUE(store_->db().Exec("ROLLBACK TO step; RELEASE step; COMMIT;").ok());
    ledger.Recount();
    EXPECT_EQ(ledger.Count(), 3);
    EXPECT_FALSE(ledger.Lookup(Key(7)).has_value());
  }
  Open();
  SqliteLedger reopened(store_.get());
  EXPECT_EQ(reopened.Count(), 3);
  ASSERT_TRUE(reopened.Lookup(Key(2)).has_value());
  EXPECT_DOUBLE_EQ(reopened.Lookup(Key(2))->accuracy, 0.8);
}

}  // namespace
}  // namespace deepevolve::store
