// Files beside the database that the master writes and reads without its lock (trained
// models, trials' checkpoints): a file is staged (written, synced) under a name of its
// own, then published (renamed into place under its name) once what refers to it is
// decided, so that a reader sees a whole file or none.
#ifndef DEEPEVOLVE_MASTER_STORE_STAGED_FILES_H_
#define DEEPEVOLVE_MASTER_STORE_STAGED_FILES_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace deepevolve::store {

// Thread-safe: each staged file has its own name, and a published one is replaced
// whole by a rename. Names are the caller's, [A-Za-z0-9._-] only.
class StagedFiles {
 public:
  // The directory `dir` (created, owner only), cleared of files staged by a process
  // that stopped before it published or discarded them; `what` says what it holds, for
  // errors. `sync`: staged files and renames reach the disk before they count.
  static absl::StatusOr<StagedFiles> Open(const std::string& dir, const std::string& what,
                                          bool sync);
  StagedFiles(StagedFiles&& other) noexcept
      : dir_(std::move(other.dir_)), sync_(other.sync_), staged_(other.staged_.load()) {}

  // Writes `data` under a new staging name; returns that name's path.
  absl::StatusOr<std::string> Stage(const std::string& data);
  // Moves a staged file into place as `name` (replacing an older one).
  absl::Status Publish(const std::string& staged, const std::string& name);
  // Makes the renames so far durable (with `sync`; else nothing).
  absl::Status SyncDirectory() const;
  // A file another process staged in this directory (one that shares it: a worker on
  // a shared volume) under `staged_name` ("staged-" and [A-Za-z0-9._-]): its path, once
  // it is a regular file (not a link) of 1 to `max_bytes` bytes, synced with `sync`;
  // `*size` receives its size. INVALID_ARGUMENT for another name, NOT_FOUND or
  // FAILED_PRECONDITION saying what is wrong with the file.
  absl::StatusOr<std::string> Claim(const std::string& staged_name, int64_t max_bytes,
                                    int64_t* size) const;
  // Removes a staged file that was not published.
  static void Discard(const std::string& staged);
  // Removes `name`, if it is there.
  absl::Status Remove(const std::string& name);
  // The file `name`, none when there is none.
  absl::StatusOr<std::optional<std::string>> Read(const std::string& name) const;
  // The published files' names and sizes.
  std::vector<std::pair<std::string, int64_t>> List() const;

  const std::string& dir() const { return dir_; }

 private:
  StagedFiles(std::string dir, bool sync) : dir_(std::move(dir)), sync_(sync) {}
  std::string PathOf(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
  bool sync_;
  std::atomic<int64_t> staged_{0};
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_STAGED_FILES_H_
