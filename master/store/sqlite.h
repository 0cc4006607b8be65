// A thin RAII layer over the SQLite C API: a connection, prepared statements with
// typed binds and columns, and transactions. Errors become absl::Status naming the
// statement and SQLite's message.
#ifndef DEEPEVOLVE_MASTER_STORE_SQLITE_H_
#define DEEPEVOLVE_MASTER_STORE_SQLITE_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace deepevolve::store {

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Binds are 1-based, like SQLite's.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, absl::string_view text);
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindNull(int index);

  // Runs one step: true while a row is available.
  absl::StatusOr<bool> Step();
  // Runs to completion, for statements without rows.
  absl::Status Run();
  void Reset();

  // Columns are 0-based.
  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Durability of a commit once SyncWal() returned. kFull survives power loss: SyncWal
// syncs the WAL file to disk (fdatasync), once for every commit written since the last
// sync, so that a caller may commit several transactions and sync them together (group
// commit). kProcess survives the crash of any process: SyncWal does nothing and the WAL
// reaches the disk at checkpoints. SQLite itself runs with synchronous=NORMAL in both,
// which syncs the WAL before each checkpoint and the database after it.
enum class Durability { kFull, kProcess };

// A cached statement in use: reset when it goes out of scope, so that a statement
// left on a row does not hold its read transaction open (an open read transaction
// stops checkpoints from copying the WAL past it).
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* s) : s_(s) {}
  ScopedStatement(ScopedStatement&& other) noexcept : s_(other.s_) { other.s_ = nullptr; }
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ~ScopedStatement() {
    if (s_ != nullptr) s_->Reset();
  }
  Statement* operator->() const { return s_; }
  Statement& operator*() const { return *s_; }

 private:
  Statement* s_;
};

// Copies the WAL back into the database file from a second connection on its own
// thread, so that no commit waits for a checkpoint: the main connection's automatic
// checkpoints are off, and its WAL hook pokes this one once the WAL holds `pages`.
class Checkpointer {
 public:
  static absl::StatusOr<std::unique_ptr<Checkpointer>> Start(const std::string& path);
  ~Checkpointer();
  // Told by the main connection after each commit, with the WAL's length in pages; asks
  // for a checkpoint each time the WAL grew by the checkpoint size.
  void Committed(int pages);
  int64_t checkpoints() const { return checkpoints_.load(); }
  // The WAL's length in pages after the last commit.
  int wal_pages() const { return last_pages_.load(); }
  // Pages of the WAL that the last checkpoint copied into the database.
  int copied_pages() const { return copied_.load(); }
  // Held while this checkpointer runs a checkpoint: SQLite runs one at a time and
  // answers BUSY, without waiting, to a second.
  absl::Mutex* running() ABSL_LOCK_RETURNED(running_) { return &running_; }

 private:
  explicit Checkpointer(sqlite3* db) : db_(db) {}
  // Asks for a checkpoint (cheap).
  void Poke();
  void Loop();

  sqlite3* db_;
  std::thread thread_;
  absl::Mutex mu_;
  absl::Mutex running_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> last_pages_{0};
  std::atomic<int> copied_{0};
  std::atomic<int64_t> checkpoints_{0};
};

class Database {
 public:
  // Opens (creating) `path` in WAL mode. DATA_LOSS when the file is not a database or
  // is corrupt, naming the file.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        Durability durability);
  ~Database();

  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // A statement prepared once and kept, reset and ready for binds, and reset again
  // when the returned handle goes. Valid until the next call of Cached with the same
  // text.
  absl::StatusOr<ScopedStatement> Cached(const std::string& sql);
  // Runs one or more statements without parameters or rows.
  absl::Status Exec(absl::string_view sql);
  // Runs one statement without parameters or rows, prepared once and kept.
  absl::Status ExecCached(const std::string& sql);
  // Makes every commit so far durable as `durability` says. Safe to call from one
  // thread while another uses the connection: it touches only the WAL file.
  absl::Status SyncWal();
  Durability durability() const { return durability_; }
  // WAL checkpoints run so far (by the background checkpointer).
  int64_t checkpoints() const { return checkpointer_ ? checkpointer_->checkpoints() : 0; }
  // Rows inserted, updated or deleted through this connection so far.
  int64_t TotalChanges() const { return sqlite3_total_changes64(db_); }
  // A checkpoint in the background copies the WAL into the database, but the WAL only
  // starts again from its beginning when a transaction begins after a checkpoint that
  // copied all of it, which under steady load never happens by itself. True when the
  // WAL has grown long enough to call RestartWal between two transactions.
  bool WalWantsRestart() const;
  // Copies the rest of the WAL into the database on this connection, so that the next
  // transaction starts the WAL again. Call with no transaction open; it blocks this
  // connection for the copy and two syncs, after waiting for a background checkpoint
  // that is running.
  absl::Status RestartWal();
  // Called at the start of every SyncWal, on the syncing thread.
  void SetSyncHookForTesting(std::function<void()> hook) { sync_hook_ = std::move(hook); }
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path, Durability durability)
      : db_(db), path_(std::move(path)), durability_(durability) {}
  sqlite3* db_;
  std::string path_;
  Durability durability_;
  // The WAL file, opened by the first SyncWal (and again if SQLite replaced it).
  int wal_fd_ = -1;
  uint64_t wal_inode_ = 0;
  std::function<void()> sync_hook_;
  std::unique_ptr<Checkpointer> checkpointer_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_SQLITE_H_
