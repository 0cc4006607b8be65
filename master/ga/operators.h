// DeepEvolve's genetic operators: random draw, mutation, single-point crossover and
// duplicate blocking. Pure functions; randomness is passed in.
#ifndef DEEPEVOLVE_MASTER_GA_OPERATORS_H_
#define DEEPEVOLVE_MASTER_GA_OPERATORS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/statusor.h"
#include "genome/genome.h"
#include "genome/space.h"

namespace deepevolve::ga {

using GenomeSet = absl::flat_hash_set<genome::Genome>;

// Each gene drawn uniformly from its values; the canonical genome (genome.h) of the draw.
genome::Genome RandomGenome(const genome::SearchSpace& space, absl::BitGenRef rng);

// The `index`-th (0-based) genome of a search's first population: `first[index]` (its
// warm start, SearchSpec.warm_start) while there is one, else a random draw. A warm-start
// genome draws nothing from `rng`.
genome::Genome FirstOrRandom(const genome::SearchSpace& space,
                             const std::vector<genome::Genome>& first, int64_t index,
                             absl::BitGenRef rng);

enum class MutationStyle {
  // Any other value, uniformly: DeepEvolve's mutate_one_gene.
  kUniform,
  // For an ordered numeric gene (its values numbers in strictly increasing or decreasing
  // order) a value d places away with weight 1/d^2; other genes as kUniform.
  kNear,
};

// Changes one uniformly chosen *active* gene to a *different* value picked by `style`,
// and returns the canonical result. In a space without layer genes every gene is active
// and kUniform is DeepEvolve's mutate_one_gene, draw for draw. Every gene of a valid
// space has at least two values.
genome::Genome Mutate(const genome::SearchSpace& space, const genome::Genome& genome,
                      absl::BitGenRef rng, MutationStyle style = MutationStyle::kUniform);

// Whether gene `gene`'s values are numbers in strictly increasing or decreasing order.
bool IsOrderedNumeric(const genome::SearchSpace& space, int gene);

// Single-point crossover over the genes sorted by name, as DeepEvolve's breed: the cut
// is uniform in 1..N-1; the first child takes `mom`'s genes before the cut and `dad`'s
// from it on, the second child the complement. With one gene there is no cut and the
// children are copies of the parents. Writes the cut to `*cut` when given. The children
// are canonical.
std::pair<genome::Genome, genome::Genome> Crossover(const genome::SearchSpace& space,
                                                    const genome::Genome& mom,
                                                    const genome::Genome& dad, absl::BitGenRef rng,
                                                    int* cut = nullptr);

// DeepEvolve's duplicate blocking: mutates `genome` until `seen` does not hold it.
// The walk is bounded; past the bound, the first unseen genome of the grid
// enumeration (GridGenome) from a random index on. RESOURCE_EXHAUSTED, naming the space
// size, when every genome has been seen.
absl::StatusOr<genome::Genome> MakeNovel(const genome::SearchSpace& space, genome::Genome genome,
                                         const GenomeSet& seen, absl::BitGenRef rng);

// The genome at `index` of the grid enumeration: genes nested in declaration order, the
// first gene outermost, each gene's values in list order (DeepEvolve's brute.py); the
// canonical genomes only, each once, where the space has layer genes.
// Requires index < space.size().
genome::Genome GridGenome(const genome::SearchSpace& space, uint64_t index);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_OPERATORS_H_
