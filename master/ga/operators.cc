#include "master/ga/operators.h"

#include <vector>

#include "absl/random/distributions.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::ga {
namespace {

// Mutation steps before falling back to listing the unseen genomes.
constexpr int kMaxMutationSteps = 1000;
// Spaces up to this size may be listed to find an unseen genome.
constexpr uint64_t kMaxListedSpace = uint64_t{1} << 22;

}  // namespace

genome::Genome RandomGenome(const genome::SearchSpace& space, absl::BitGenRef rng) {
  genome::Genome genome;
  genome.choice.resize(space.num_genes());
  for (int g = 0; g < space.num_genes(); ++g) {
    genome.choice[g] = absl::Uniform<int>(rng, 0, space.num_values(g));
  }
  return genome;
}

genome::Genome Mutate(const genome::SearchSpace& space, const genome::Genome& genome,
                      absl::BitGenRef rng) {
  genome::Genome child = genome;
  const int g = absl::Uniform<int>(rng, 0, space.num_genes());
  // Uniform over the other values: draw from n-1 and skip the current one.
  int v = absl::Uniform<int>(rng, 0, space.num_values(g) - 1);
  if (v >= genome.choice[g]) ++v;
  child.choice[g] = v;
  return child;
}

std::pair<genome::Genome, genome::Genome> Crossover(const genome::SearchSpace& space,
                                                    const genome::Genome& mom,
                                                    const genome::Genome& dad, absl::BitGenRef rng,
                                                    int* cut) {
  const int n = space.num_genes();
  genome::Genome first = mom;
  genome::Genome second = dad;
  int at = n;
  if (n >= 2) {
    at = absl::Uniform<int>(absl::IntervalClosed, rng, 1, n - 1);
    const std::vector<int>& order = space.alphabetical_order();
    for (int i = at; i < n; ++i) {
      first.choice[order[i]] = dad.choice[order[i]];
      second.choice[order[i]] = mom.choice[order[i]];
    }
  }
  if (cut != nullptr) *cut = at;
  return {std::move(first), std::move(second)};
}

absl::StatusOr<genome::Genome> MakeNovel(const genome::SearchSpace& space, genome::Genome genome,
                                         const GenomeSet& seen, absl::BitGenRef rng) {
  if (seen.size() >= space.size()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("search space exhausted: all ", space.size(), " genomes have been seen"));
  }
  for (int step = 0; step < kMaxMutationSteps; ++step) {
    if (!seen.contains(genome)) return genome;
    genome = Mutate(space, genome, rng);
  }
  if (!seen.contains(genome)) return genome;
  if (space.size() > kMaxListedSpace) {
    return absl::ResourceExhaustedError(absl::StrCat("no unseen genome found after ",
                                                     kMaxMutationSteps, " mutations (", seen.size(),
                                                     " of ", space.size(), " genomes seen)"));
  }
  // The walk keeps landing on seen genomes: the space is nearly used up. Pick one of
  // the unseen genomes uniformly instead.
  std::vector<uint64_t> unseen;
  for (uint64_t i = 0; i < space.size(); ++i) {
    if (!seen.contains(GridGenome(space, i))) unseen.push_back(i);
  }
  return GridGenome(space, unseen[absl::Uniform<size_t>(rng, 0, unseen.size())]);
}

genome::Genome GridGenome(const genome::SearchSpace& space, uint64_t index) {
  genome::Genome genome;
  genome.choice.resize(space.num_genes());
  for (int g = space.num_genes() - 1; g >= 0; --g) {
    const uint64_t n = space.num_values(g);
    genome.choice[g] = static_cast<int>(index % n);
    index /= n;
  }
  return genome;
}

}  // namespace deepevolve::ga
