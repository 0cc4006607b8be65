// Trained models as files beside the database, one per ledger entry, written and read
// without the master's lock: a report's model is staged (written, synced) once the
// master has checked that the report's lease is live and the caller's, published
// (renamed into place) once the result that made the ledger entry is durable, and read
// by an export after the master named the entry. A file belongs to the training that
// made its key's ledger entry: a result that replaces an entry without a model removes
// the old file.
#ifndef DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_
#define DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "genome/ledger.h"

namespace deepevolve::store {

// Thread-safe: each staged file has its own name, and a published one is replaced
// whole by a rename.
class ModelFiles {
 public:
  // The directory `dir` (created, owner only), cleared of files staged by a process
  // that stopped before it published or discarded them. `sync`: staged files and
  // renames reach the disk before they count (the store's full durability).
  static absl::StatusOr<ModelFiles> Open(const std::string& dir, bool sync);
  ModelFiles(ModelFiles&& other) noexcept
      : dir_(std::move(other.dir_)), sync_(other.sync_), staged_(other.staged_.load()) {}

  // Writes `data` under a new staging name; returns that name's path.
  absl::StatusOr<std::string> Stage(const std::string& data);
  // Moves a staged file into place as the model of `key` (replacing an older one).
  absl::Status Publish(const std::string& staged, const genome::LedgerKey& key);
  // Makes the renames so far durable (with `sync`; else nothing).
  absl::Status SyncDirectory() const;
  // Removes a staged file that was not published.
  static void Discard(const std::string& staged);
  // Removes the model of `key`, if any: its ledger entry is another training's now.
  absl::Status Remove(const genome::LedgerKey& key);
  // The model of `key`, none when there is none.
  absl::StatusOr<std::optional<std::string>> Read(const genome::LedgerKey& key) const;

  const std::string& dir() const { return dir_; }

 private:
  ModelFiles(std::string dir, bool sync) : dir_(std::move(dir)), sync_(sync) {}
  std::string PathOf(const genome::LedgerKey& key) const;

  std::string dir_;
  bool sync_;
  std::atomic<int64_t> staged_{0};
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_
