#include "genome/ledger.h"

#include "absl/strings/str_cat.h"

namespace deepevolve::genome {

absl::StatusOr<std::optional<TrialResult>> InMemoryLedger::Lookup(const LedgerKey& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<TrialResult>();
  return std::optional<TrialResult>(it->second);
}

absl::Status InMemoryLedger::Insert(const LedgerKey& key, const TrialResult& result) {
  auto [it, inserted] = entries_.try_emplace(key, result);
  if (inserted) return absl::OkStatus();
  if (!Replaces(result, it->second)) {
    return absl::AlreadyExistsError(
        absl::StrCat("ledger already holds a result for ", key.ToString()));
  }
  it->second = result;
  return absl::OkStatus();
}

}  // namespace deepevolve::genome
