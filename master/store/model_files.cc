#include "master/store/model_files.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/md5.h"
#include "common/status_macros.h"

namespace deepevolve::store {

absl::StatusOr<ModelFiles> ModelFiles::Open(const std::string& dir, bool sync) {
  ASSIGN_OR_RETURN(StagedFiles files, StagedFiles::Open(dir, "models", sync));
  return ModelFiles(std::move(files));
}

std::string ModelFiles::NameOf(const genome::LedgerKey& key) {
  // Both hashes are hex; the name is hashed again so that no key can name a path.
  return absl::StrCat(Md5Hex(absl::StrCat(key.genome_hash, "/", key.task_hash)), ".pt");
}

absl::StatusOr<CheckpointFiles> CheckpointFiles::Open(const std::string& dir, bool sync) {
  ASSIGN_OR_RETURN(StagedFiles files, StagedFiles::Open(dir, "checkpoints", sync));
  return CheckpointFiles(std::move(files));
}

std::string CheckpointFiles::NameOf(const Id& id) {
  return absl::StrCat("search-", id.search_id, "-genome-", id.genome_id, "-epoch-", id.epoch,
                      ".ckpt");
}

std::optional<CheckpointFiles::Id> CheckpointFiles::Parse(const std::string& name) {
  absl::string_view rest = name;
  if (!absl::ConsumePrefix(&rest, "search-") || !absl::ConsumeSuffix(&rest, ".ckpt")) {
    return std::nullopt;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(rest, '-');
  Id id;
  if (parts.size() != 5 || parts[1] != "genome" || parts[3] != "epoch" ||
      !absl::SimpleAtoi(parts[0], &id.search_id) || !absl::SimpleAtoi(parts[2], &id.genome_id) ||
      !absl::SimpleAtoi(parts[4], &id.epoch)) {
    return std::nullopt;
  }
  return id;
}

}  // namespace deepevolve::store
