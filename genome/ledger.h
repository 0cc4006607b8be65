// The genome ledger: every genome ever trained on a task, with its result.
#ifndef DEEPEVOLVE_GENOME_LEDGER_H_
#define DEEPEVOLVE_GENOME_LEDGER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "genome/genome.h"
#include "genome/metrics.h"

namespace deepevolve::genome {

// What one training of a genome produced.
struct TrialResult {
  // False when the genome could not be built or trained; `error` says why.
  bool ok = true;
  // The fitness: accuracy on the validation data, in [0, 1].
  double accuracy = 0;
  // Accuracy on the test set, reported beside the fitness.
  double test_accuracy = 0;
  double train_seconds = 0;
  int epochs_run = 0;
  std::string error;
  // Stopped by a pruner after epochs_run epochs: a partial result. A later search
  // trains such a genome again instead of taking it, and that full result replaces it.
  bool pruned = false;
  // What else it measured, by name (genome/metrics.h).
  Metrics metrics;
  // Empty for a training of this ledger's; for an imported result (ImportTrials), where
  // it came from.
  std::string source;
};

// Whether `result` may take the place of `held` under the same key: only a full result
// over a pruned one.
inline bool Replaces(const TrialResult& result, const TrialResult& held) {
  return held.pruned && !result.pruned;
}

// A store of results by LedgerKey. Implementations say whether they are thread-safe.
class Ledger {
 public:
  virtual ~Ledger() = default;

  // The recorded result for `key`, or nullopt when the genome was never trained on
  // that task. An error of the storage is an error, never "not trained".
  virtual absl::StatusOr<std::optional<TrialResult>> Lookup(const LedgerKey& key) const = 0;

  // Records `result` under `key`. ALREADY_EXISTS when `key` holds a result that
  // `result` does not replace (see Replaces): a ledger entry is written once, except
  // that a full result replaces a pruned one. Other errors come from the storage.
  virtual absl::Status Insert(const LedgerKey& key, const TrialResult& result) = 0;

  // The number of entries.
  virtual int64_t Count() const = 0;
};

// A Ledger in memory, for simulations, tests and one-process searches.
// Thread-compatible: callers serialise access.
class InMemoryLedger : public Ledger {
 public:
  absl::StatusOr<std::optional<TrialResult>> Lookup(const LedgerKey& key) const override;
  absl::Status Insert(const LedgerKey& key, const TrialResult& result) override;
  int64_t Count() const override { return static_cast<int64_t>(entries_.size()); }

 private:
  absl::flat_hash_map<LedgerKey, TrialResult> entries_;
};

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_LEDGER_H_
