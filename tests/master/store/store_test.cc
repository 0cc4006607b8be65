#include "master/store/store.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace deepevolve::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void TearDown() override { store_.reset(); }
  void Open() {
    store_.reset();
    auto store = Store::Open(dir_.File("s.db"), Durability::kProcess);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  static genome::LedgerKey Key(int i) { return {absl::StrCat("genome", i), "task"}; }

  ::deepevolve::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, TheLedgerCountIsKeptThroughInsertsDuplicatesRollbacksAndReopening) {
  Open();
  {
    SqliteLedger ledger(store_.get());
    ASSERT_TRUE(ledger.Load().ok());
    EXPECT_EQ(ledger.Count(), 0);
    genome::TrialResult result;
    result.accuracy = 0.8;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ledger.Insert(Key(i), result).ok());
    EXPECT_EQ(ledger.Count(), 3);
    EXPECT_TRUE(absl::IsAlreadyExists(ledger.Insert(Key(1), result)));
    EXPECT_EQ(ledger.Count(), 3);

    // An insert undone by a rollback: the count is taken back to before the step.
    ASSERT_TRUE(store_->db().Exec("BEGIN; SAVEPOINT step;").ok());
    const int64_t before = ledger.Count();
    ASSERT_TRUE(ledger.Insert(Key(7), result).ok());
    EXPECT_EQ(ledger.Count(), 4);
    ASSERT_TRUE(store_->db().Exec("ROLLBACK TO step; RELEASE step; COMMIT;").ok());
    ledger.RolledBack(before);
    EXPECT_EQ(ledger.Count(), 3);
    EXPECT_FALSE(ledger.Lookup(Key(7))->has_value());
  }
  Open();
  SqliteLedger reopened(store_.get());
  ASSERT_TRUE(reopened.Load().ok());
  EXPECT_EQ(reopened.Count(), 3);
  ASSERT_TRUE(reopened.Lookup(Key(2))->has_value());
  EXPECT_DOUBLE_EQ(reopened.Lookup(Key(2)).value()->accuracy, 0.8);
}

// A pruned result is partial: a full result replaces it (once), nothing replaces a full
// one, and the count stays the number of keys. A database from before the column
// existed gains it, its entries full.
TEST_F(StoreTest, AFullResultReplacesAPrunedOneAndOldLedgersGainTheColumn) {
  Open();
  SqliteLedger ledger(store_.get());
  ASSERT_TRUE(ledger.Load().ok());
  genome::TrialResult pruned;
  pruned.accuracy = 0.6;
  pruned.epochs_run = 1;
  pruned.pruned = true;
  ASSERT_TRUE(ledger.Insert(Key(1), pruned).ok());
  EXPECT_TRUE(ledger.Lookup(Key(1)).value()->pruned);
  EXPECT_TRUE(absl::IsAlreadyExists(ledger.Insert(Key(1), pruned)));
  genome::TrialResult full;
  full.accuracy = 0.8;
  full.epochs_run = 4;
  ASSERT_TRUE(ledger.Insert(Key(1), full).ok());
  EXPECT_FALSE(ledger.Lookup(Key(1)).value()->pruned);
  EXPECT_DOUBLE_EQ(ledger.Lookup(Key(1)).value()->accuracy, 0.8);
  EXPECT_TRUE(absl::IsAlreadyExists(ledger.Insert(Key(1), pruned)));
  EXPECT_TRUE(absl::IsAlreadyExists(ledger.Insert(Key(1), full)));
  EXPECT_EQ(ledger.Count(), 1);

  // A ledger table as masters before pruning wrote it.
  store_.reset();
  const std::string old_path = dir_.File("old.db");
  {
    auto db = Database::Open(old_path, Durability::kProcess);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE ledger (genome_hash TEXT NOT NULL, task_hash TEXT NOT "
                           "NULL, ok INTEGER NOT NULL, accuracy REAL NOT NULL, test_accuracy "
                           "REAL NOT NULL, train_seconds REAL NOT NULL, epochs_run INTEGER NOT "
                           "NULL, error TEXT NOT NULL, PRIMARY KEY (genome_hash, task_hash)) "
                           "WITHOUT ROWID; INSERT INTO ledger VALUES ('g', 't', 1, 0.7, 0.69, "
                           "1.0, 4, '')")
                    .ok());
  }
  auto reopened = Store::Open(old_path, Durability::kProcess);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  SqliteLedger old(reopened->get());
  ASSERT_TRUE(old.Lookup({"g", "t"})->has_value());
  EXPECT_FALSE(old.Lookup({"g", "t"}).value()->pruned);
  EXPECT_DOUBLE_EQ(old.Lookup({"g", "t"}).value()->accuracy, 0.7);
  EXPECT_EQ(old.Lookup({"g", "t"}).value()->source, "");  // trained here
}

// An imported entry keeps where it came from, through a reopening.
TEST_F(StoreTest, AnImportedEntryKeepsItsSource) {
  Open();
  {
    SqliteLedger ledger(store_.get());
    ASSERT_TRUE(ledger.Load().ok());
    genome::TrialResult imported;
    imported.accuracy = 0.85;
    imported.source = "optuna study mlp";
    ASSERT_TRUE(ledger.Insert(Key(1), imported).ok());
    genome::TrialResult trained;
    trained.accuracy = 0.8;
    ASSERT_TRUE(ledger.Insert(Key(2), trained).ok());
  }
  Open();
  SqliteLedger reopened(store_.get());
  EXPECT_EQ(reopened.Lookup(Key(1)).value()->source, "optuna study mlp");
  EXPECT_EQ(reopened.Lookup(Key(2)).value()->source, "");
}

// The master restarts the WAL between transactions when it asks for it: the WAL file
// stays bounded however much is written (at most twice the restart size, where the
// background checkpointer has not caught up).
TEST_F(StoreTest, TheWalStaysBoundedWhenRestartedBetweenTransactions) {
  const std::string path = dir_.File("w.db");
  {
    auto db = Database::Open(path, Durability::kProcess);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)").ok());
    int restarts = 0;
    uintmax_t largest = 0;
    // Over 160 MB through the WAL: 32 768 transactions that each replace one of 16
    // rows of 16 000 bytes (five or more 4 KiB pages).
    for (int i = 0; i < 32768; ++i) {
      ASSERT_TRUE((*db)
                      ->Exec(absl::StrCat("INSERT OR REPLACE INTO t VALUES (", i % 16,
                                          ", zeroblob(16000))"))
                      .ok());
      // As the master does.
      if ((*db)->WalWantsRestart()) {
        absl::Status restarted = (*db)->RestartWal();
        ASSERT_TRUE(restarted.ok()) << restarted;
        ++restarts;
      }
      largest = std::max(largest, fs::file_size(path + "-wal"));
    }
    EXPECT_GE(restarts, 1);
    // 2 x 16 384 pages of 4 KiB, each with its 24-byte frame header, and one
    // transaction more.
    EXPECT_LE(largest, (2 * 16384 + 16) * (4096 + 24));
  }
}

// A database written before events had a kind opens with the column added; its old
// events stay (kind 0), and a finished search prunes only its GENOME_PROGRESS ones.
TEST_F(StoreTest, AnOlderEventsTableGainsItsKindAndOnlyProgressIsPruned) {
  {
    auto db = Database::Open(dir_.File("s.db"), Durability::kProcess);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, search_id INTEGER NOT "
                           "NULL, event BLOB NOT NULL); INSERT INTO events VALUES (1, 1, x'')")
                    .ok());
  }
  Open();
  for (const auto kind : {v1::Event::GENOME_PROGRESS, v1::Event::GENOME_FINISHED}) {
    v1::Event e;
    e.set_sequence(kind == v1::Event::GENOME_PROGRESS ? 2 : 3);
    e.set_search_id(1);
    e.set_kind(kind);
    ASSERT_TRUE(store_->AppendEvent(e).ok());
  }
  v1::SearchSummary summary;
  auto id = store_->InsertSearch(summary);
  ASSERT_TRUE(id.ok() && *id == 1);
  summary.set_search_id(1);
  ASSERT_TRUE(store_->PutFinished(summary, 3, {}, {}).ok());
  auto events = store_->LoadEvents(1, 0, 100, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].sequence(), 1);
  EXPECT_EQ((*events)[1].kind(), v1::Event::GENOME_FINISHED);
  auto index = store_->LoadFinishedIndex();
  ASSERT_TRUE(index.ok());
  ASSERT_EQ(index->size(), 1u);
  EXPECT_EQ((*index)[0].last_event, 3);
}

}  // namespace
}  // namespace deepevolve::store
