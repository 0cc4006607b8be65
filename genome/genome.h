// Genomes and their identity: the MD5 hash DeepEvolve logs, and the ledger key.
#ifndef DEEPEVOLVE_GENOME_GENOME_H_
#define DEEPEVOLVE_GENOME_GENOME_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/space.h"

namespace deepevolve::genome {

// A point of a search space: for each gene (in the space's declaration order), the
// index of its value. Meaningful only together with its SearchSpace.
struct Genome {
  std::vector<int> choice;

  friend bool operator==(const Genome& a, const Genome& b) { return a.choice == b.choice; }
  friend bool operator!=(const Genome& a, const Genome& b) { return !(a == b); }
  template <typename H>
  friend H AbslHashValue(H h, const Genome& g) {
    return H::combine(std::move(h), g.choice);
  }
};

// A genome as (gene name, value) pairs, independent of any space.
using NamedGenome = std::vector<std::pair<std::string, GeneValue>>;

// Whether gene `gene` shapes the network of `genome`: a layer's own width
// (nb_neurons_<i>) does only when the genome has at least i layers; every other gene
// always does.
bool IsActive(const SearchSpace& space, const Genome& genome, int gene);

// `genome` with each inactive gene at its first value: the one genome that stands for
// all that differ only there. Operators, duplicate blocking and the ledger see only
// canonical genomes.
Genome Canonical(const SearchSpace& space, Genome genome);

// The active genes of `genome` with their values: inactive genes are left out, and so
// out of its identity.
NamedGenome ToNamedGenome(const SearchSpace& space, const Genome& genome);

// The trial seed: derived from the search seed and the genome hash, so a genome trains
// the same way whichever worker gets it and in whatever order.
uint64_t TrialSeed(uint64_t search_seed, const std::string& genome_hash);

// Looks each gene of `space` up in `assignment` (an integer given for a number gene is
// that number); an inactive gene may be missing.
// Returns the canonical genome. INVALID_ARGUMENT names the gene that is missing,
// unknown to the space, or holds a value outside its list.
absl::StatusOr<Genome> FromNamedGenome(const SearchSpace& space, const NamedGenome& assignment);

// The string whose MD5 identifies a genome.
//
// For DeepEvolve's four genes it is the original's: nb_neurons, activation, nb_layers,
// optimizer concatenated ("64relu2adam"), so hashes match the original's logs. Every
// other assignment gets a canonical, unambiguous encoding: "dv1;" then, for each gene in
// name order, "name=i:<decimal>;" or "name=s<length>:<text>;".
std::string IdentityString(const NamedGenome& assignment);

// Lowercase hex MD5 of IdentityString.
std::string GenomeHash(const NamedGenome& assignment);
std::string GenomeHash(const SearchSpace& space, const Genome& genome);

// The hash of a round of population-based training: of the schedule that trained its
// checkpoint. It goes on from the round hashed `from_hash` (empty: from the first
// epoch) and trains `genes_hash`'s genome through `stop_epoch` (0: the task's last).
std::string ScheduleHash(const std::string& from_hash, const std::string& genes_hash,
                         int stop_epoch);

// What a trial's checkpoints carry, and a checkpoint must carry to be resumed from:
// its genes, task and seed.
std::string TrialIdentity(const NamedGenome& genome, const v1::TaskSpec& task, uint64_t seed);

// "nb_neurons=64 nb_layers=2 activation=relu optimizer=adam", in space order.
std::string DescribeGenome(const SearchSpace& space, const Genome& genome);

// A canonical text for every TaskSpec field that changes what training produces,
// the trainer's name and version included. `task` must be resolved (defaults filled in).
std::string TaskIdentity(const v1::TaskSpec& task);

// Documented limits on a trainer's name ("NAME" or "NAME@VERSION", TaskSpec.trainer).
inline constexpr int kMaxTrainerNameLength = 64;     // [a-z0-9][a-z0-9_.-]*
inline constexpr int kMaxTrainerVersionLength = 64;  // [A-Za-z0-9_.-]+
// OK when `trainer` is "NAME" or "NAME@VERSION" within the limits above; otherwise
// INVALID_ARGUMENT saying what a trainer's name is, with `trainer` (cut to 80 bytes).
absl::Status CheckTrainerName(absl::string_view trainer);

// A training program a worker offers (`--trainer NAME[@VERSION]=COMMAND`, on the
// worker and on `deepevolve local`).
struct TrainerProgram {
  std::string name;     // "NAME" or "NAME@VERSION", as searches name it (TaskSpec.trainer)
  std::string command;  // run by /bin/sh -c
};

// Parses "NAME[@VERSION]=COMMAND". INVALID_ARGUMENT saying what is wrong (no '=', a bad
// name, an empty command).
absl::StatusOr<TrainerProgram> ParseTrainerFlag(absl::string_view flag);

// The ledger key: a genome trained on a task. The same genome on another task (other
// dataset, net kind, epochs, batch size, validation mode, ...) is another entry.
struct LedgerKey {
  std::string genome_hash;  // GenomeHash
  std::string task_hash;    // MD5 of TaskIdentity

  std::string ToString() const { return genome_hash + "@" + task_hash; }
  friend bool operator==(const LedgerKey& a, const LedgerKey& b) {
    return a.genome_hash == b.genome_hash && a.task_hash == b.task_hash;
  }
  template <typename H>
  friend H AbslHashValue(H h, const LedgerKey& k) {
    return H::combine(std::move(h), k.genome_hash, k.task_hash);
  }
};

LedgerKey MakeLedgerKey(const SearchSpace& space, const Genome& genome, const v1::TaskSpec& task);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_GENOME_H_
