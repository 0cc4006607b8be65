// Turning a submitted SearchSpec into a complete, validated one.
#ifndef DEEPEVOLVE_MASTER_GA_SPEC_H_
#define DEEPEVOLVE_MASTER_GA_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/space.h"

namespace deepevolve::ga {

// Documented limits on a spec beyond those of the space (space.h).
inline constexpr int kMaxSpecNameLength = 256;
inline constexpr int kMaxPopulation = 10000;
inline constexpr int kMaxGenerations = 10000;
inline constexpr int kMaxTrials = 10000000;
// Objectives and constraints a spec may have.
inline constexpr int kMaxObjectives = 4;
inline constexpr int kMaxConstraints = 8;
// Candidates the guided strategy scores per genome: what bounds the time it holds the
// master's lock.
inline constexpr int kMaxCandidates = 1024;
inline constexpr int kMaxEpochs = 1000;
// A submitted spec's encoded size: far above the largest a spec within the other
// limits (32 genes of 256 values) needs.
inline constexpr size_t kMaxSpecBytes = size_t{1} << 20;
inline constexpr int kMaxBatchSize = 65536;
inline constexpr int kMaxDatasetLength = 1024;  // task.dataset
// The memory training one genome may take (genome::TrainingBytes), checked at
// submission for the space's largest genome on a dataset of known shape.
inline constexpr int64_t kMaxGenomeBytes = int64_t{16} << 30;

// Returns `spec` with the preset applied (its space when `space` is empty, its task
// fields where the spec's are unset), every default filled in (strategy generational,
// epochs 4, batch 64/128, HOLDOUT validation of 0.1 — TEST_SET under
// deepevolve_compat —, early stopping 0.1/2, ...), and everything checked.
//
// INVALID_ARGUMENT, with a message that starts with the field's path ("task.epochs:
// ..."), for an unknown preset, dataset or gene, a bad space (see SearchSpace::Create),
// a missing net kind, or any number outside its documented range. The seed is left as
// given (0 means "pick one", which is the caller's business: this is a pure function).
// `names` = kAny accepts any well-formed genes (simulations on fitness tables), as does a
// spec whose task names a trainer program (task.trainer), whatever `names` says.
absl::StatusOr<v1::SearchSpec> ResolveSearchSpec(
    const v1::SearchSpec& spec, genome::GeneNames names = genome::GeneNames::kTrainable);

// Whether `spec` (resolved) ranks by anything but accuracy, maximized: several
// objectives, another one, or constraints.
bool IsMultiObjective(const v1::SearchSpec& spec);

// Which genes a search on `task` may name: the built-in trainer's (kTrainable), or any
// well-formed ones for a trainer program (task.trainer set).
genome::GeneNames GeneNamesFor(const v1::TaskSpec& task);

// The names strategies go by in flags, files and output, in one place:
// "generational", "generational_compat" (DeepEvolve's accidents kept), "steady_state",
// "guided", "random", "grid".
const std::vector<std::string>& StrategyNames();
// The name of `spec`'s strategy; "generational", the default, for a spec with none.
std::string StrategyName(const v1::SearchSpec& spec);
// Makes `name` the spec's strategy, keeping its settings when it is that strategy
// already. INVALID_ARGUMENT listing the known names for any other name.
absl::Status SetStrategy(const std::string& name, v1::SearchSpec* spec);

// OK when `path` (of "csv:<path>") names a file inside the workers' data directories:
// relative, of letters, digits and . _ - /, with no ".." part. INVALID_ARGUMENT saying
// so otherwise. Workers check again where the path really leads (links).
absl::Status CheckCsvPath(absl::string_view path);

// OK unless the space's largest genome needs more than kMaxGenomeBytes to train on the
// task (for datasets of known shape); INVALID_ARGUMENT naming that genome and its size.
absl::Status CheckGenomeMemory(const genome::SearchSpace& space, const v1::TaskSpec& task);

// True for "mnist", "fashion_mnist", "cifar10" and "csv:<path>".
bool IsKnownDataset(const std::string& dataset);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_SPEC_H_
