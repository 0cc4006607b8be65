#include "master/store/sqlite.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace deepevolve::store {
namespace {

// WAL pages after which the background checkpointer runs again (SQLite's automatic
// checkpoint size).
constexpr int kCheckpointPages = 1000;
// WAL pages after which the master restarts the WAL between two batches (64 MiB with
// 4 KiB pages), once the background checkpointer has copied all but kRestartBacklog
// pages of it. The restart copies what is left under the master's lock, with two
// syncs: it holds every worker for a few milliseconds (more once the database is
// large), so it comes rarely and with little to copy.
constexpr int kRestartPages = 16 * 1024;
constexpr int kRestartBacklog = 256;
constexpr int kBusyTimeoutMs = 5000;

absl::Status Error(sqlite3* db, int code, absl::string_view what) {
  const std::string message =
      absl::StrCat(what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, absl::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(db_, rc, sqlite3_sql(stmt_));
}

absl::Status Statement::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                         Durability durability) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = Error(db, rc, absl::StrCat("cannot open database ", path));
    sqlite3_close(db);
    return status;
  }
  std::unique_ptr<Database> out(new Database(db, path, durability));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // The first statements read the header: a file that is not a database fails here.
  absl::Status status =
      out->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!status.ok()) {
    return Error(db, sqlite3_errcode(db),
                 absl::StrCat("database ", path, " cannot be used (", status.message(), ")"));
  }
  absl::StatusOr<std::unique_ptr<Checkpointer>> checkpointer = Checkpointer::Start(path);
  if (!checkpointer.ok()) return checkpointer.status();
  out->checkpointer_ = *std::move(checkpointer);
  // Replaces SQLite's automatic checkpoint, which would run inside a commit.
  sqlite3_wal_hook(
      db,
      [](void* arg, sqlite3*, const char*, int pages) {
        static_cast<Checkpointer*>(arg)->Committed(pages);
        return SQLITE_OK;
      },
      out->checkpointer_.get());
  return out;
}

absl::StatusOr<std::unique_ptr<Checkpointer>> Checkpointer::Start(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = Error(db, rc, absl::StrCat("cannot open database ", path));
    sqlite3_close(db);
    return status;
  }
  sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  std::unique_ptr<Checkpointer> out(new Checkpointer(db));
  out->thread_ = std::thread([c = out.get()] { c->Loop(); });
  return out;
}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  sqlite3_close(db_);
}

void Checkpointer::Committed(int pages) {
  // Once per kCheckpointPages the WAL grew (it starts again from 0 after a checkpoint
  // that copied everything).
  const int last = last_pages_.exchange(pages);
  if (pages < last) copied_.store(0);
  if (pages >= kCheckpointPages &&
      (pages < last || pages / kCheckpointPages != last / kCheckpointPages)) {
    Poke();
  }
}

void Checkpointer::Poke() {
  absl::MutexLock lock(&mu_);
  poked_ = true;
}

void Checkpointer::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Checkpointer* c)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->poked_ || c->stop_; },
          this));
      if (stop_) return;
      poked_ = false;
    }
    // PASSIVE: copies what no reader needs, never blocks the writer. A failure leaves
    // the WAL longer, nothing else; the next poke tries again.
    int pages = 0, copied = 0;
    absl::MutexLock running(&running_);
    if (sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &pages, &copied) ==
        SQLITE_OK) {
      // Unless the WAL started again meanwhile (then this count is of the old one).
      if (copied <= last_pages_.load()) copied_.store(copied);
      ++checkpoints_;
    }
  }
}

Database::~Database() {
  cache_.clear();
  checkpointer_.reset();
  sqlite3_close(db_);
  if (wal_fd_ >= 0) ::close(wal_fd_);
}

bool Database::WalWantsRestart() const {
  if (checkpointer_ == nullptr) return false;
  const int pages = checkpointer_->wal_pages();
  // At twice the size whatever is left: the background checkpointer is not catching up.
  return pages >= kRestartPages &&
         (pages - checkpointer_->copied_pages() <= kRestartBacklog || pages >= 2 * kRestartPages);
}

absl::Status Database::RestartWal() {
  // Waits for a background checkpoint still running (else this one fails BUSY, and
  // under a fast writer the WAL grew without bound), copies the rest and waits until
  // no reader needs the WAL (RESTART), so that the next transaction starts it again.
  absl::MutexLockMaybe running(checkpointer_ ? checkpointer_->running() : nullptr);
  // Not for long: another process reading the database (someone's sqlite3 shell) would
  // hold every worker; a restart that fails is tried again later.
  sqlite3_busy_timeout(db_, 50);
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return Error(db_, rc, "checkpoint");
  return absl::OkStatus();
}

absl::Status Database::SyncWal() {
  if (sync_hook_) sync_hook_();
  if (durability_ != Durability::kFull) return absl::OkStatus();
  const std::string wal = path_ + "-wal";
  struct stat st;
  if (::stat(wal.c_str(), &st) != 0) {
    return absl::InternalError(absl::StrCat("cannot sync ", wal, ": ", std::strerror(errno)));
  }
  if (wal_fd_ < 0 || static_cast<uint64_t>(st.st_ino) != wal_inode_) {
    if (wal_fd_ >= 0) ::close(wal_fd_);
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open ", wal, " to sync it: ", std::strerror(errno)));
    }
    wal_inode_ = static_cast<uint64_t>(st.st_ino);
    // A new WAL file: its directory entry must reach the disk too.
    std::string dir = std::filesystem::path(wal).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }
  if (::fdatasync(wal_fd_) != 0) {
    return absl::InternalError(absl::StrCat("cannot sync ", wal, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(db_, rc, sql);
  return Statement(db_, stmt);
}

absl::StatusOr<ScopedStatement> Database::Cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    absl::StatusOr<Statement> stmt = Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    it = cache_.emplace(sql, std::make_unique<Statement>(std::move(*stmt))).first;
  }
  it->second->Reset();
  return ScopedStatement(it->second.get());
}

absl::Status Database::ExecCached(const std::string& sql) {
  absl::StatusOr<ScopedStatement> s = Cached(sql);
  if (!s.ok()) return s.status();
  return (*s)->Run();
}

absl::Status Database::Exec(absl::string_view sql) {
  const std::string s(sql);
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) return Error(db_, rc, s);
  return absl::OkStatus();
}

}  // namespace deepevolve::store
