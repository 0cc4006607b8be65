// A thin RAII layer over the SQLite C API: a connection, prepared statements with
// typed binds and columns, and transactions. Errors become absl::Status naming the
// statement and SQLite's message.
#ifndef DEEPEVOLVE_MASTER_STORE_SQLITE_H_
#define DEEPEVOLVE_MASTER_STORE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// Durability of a commit. kFull survives power loss (the WAL is synced at each
// commit); kProcess survives the crash of any process (the WAL is synced at
// checkpoints only): SQLite's synchronous=FULL and NORMAL in WAL mode.
enum class Durability { kFull, kProcess };

class Database {
 public:
  // Opens (creating) `path` in WAL mode. DATA_LOSS when the file is not a database or
  // is corrupt, naming the file.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                         Durability durability);
  ~Database();

  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // A statement prepared once and kept, reset and ready for binds. Valid until the
  // next call of Cached with the same text.
  absl::StatusOr<Statement*> Cached(const std::string& sql);
  // Runs one or more statements without parameters or rows.
  absl::Status Exec(absl::string_view sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database* db) : db_(db) {}
  ~Transaction();
  absl::Status Begin();
  absl::Status Commit();

 private:
  Database* db_;
  bool open_ = false;
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_SQLITE_H_
