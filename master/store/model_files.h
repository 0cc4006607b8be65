// Trained models as files beside the database, one per ledger entry (staged_files.h:
// written and read without the master's lock): a report's model is staged once the
// master has checked that the report's lease is live and the caller's, published once
// the result that made the ledger entry is durable, and read by an export after the
// master named the entry. A file belongs to the training that made its key's ledger
// entry: a result that replaces an entry without a model removes the old file.
//
// And trials' checkpoints, one per running trial: the training state after an epoch,
// kept while the trial runs so that its next worker resumes there.
#ifndef DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_
#define DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "genome/ledger.h"
#include "master/store/staged_files.h"

namespace deepevolve::store {

class ModelFiles : public StagedFiles {
 public:
  static absl::StatusOr<ModelFiles> Open(const std::string& dir, bool sync);

  using StagedFiles::Publish;
  using StagedFiles::Read;
  using StagedFiles::Remove;
  // Moves a staged file into place as the model of `key` (replacing an older one).
  absl::Status Publish(const std::string& staged, const genome::LedgerKey& key) {
    return Publish(staged, NameOf(key));
  }
  // Removes the model of `key`, if any: its ledger entry is another training's now.
  absl::Status Remove(const genome::LedgerKey& key) { return Remove(NameOf(key)); }
  // The model of `key`, none when there is none.
  absl::StatusOr<std::optional<std::string>> Read(const genome::LedgerKey& key) const {
    return Read(NameOf(key));
  }

 private:
  explicit ModelFiles(StagedFiles files) : StagedFiles(std::move(files)) {}
  static std::string NameOf(const genome::LedgerKey& key);
};

class CheckpointFiles : public StagedFiles {
 public:
  static absl::StatusOr<CheckpointFiles> Open(const std::string& dir, bool sync);

  using StagedFiles::Publish;
  using StagedFiles::Read;
  using StagedFiles::Remove;
  // The checkpoint after `epoch` of genome `genome_id` of search `search_id`. A newer
  // checkpoint is a file of its own, and the older one is removed once the trial's
  // record names the newer: a reader always finds the epoch the record says.
  struct Id {
    int64_t search_id = 0;
    int64_t genome_id = 0;
    int epoch = 0;
  };
  static std::string NameOf(const Id& id);
  // What a published checkpoint's name says; none for another name.
  static std::optional<Id> Parse(const std::string& name);

 private:
  explicit CheckpointFiles(StagedFiles files) : StagedFiles(std::move(files)) {}
};

}  // namespace deepevolve::store

#endif  // DEEPEVOLVE_MASTER_STORE_MODEL_FILES_H_
