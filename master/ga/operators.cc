#include "master/ga/operators.h"

#include <limits>
#include <optional>
#include <vector>

#include "absl/random/distributions.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::ga {
namespace {

// Mutation steps before falling back to scanning the grid for an unseen genome.
constexpr int kMaxMutationSteps = 1000;

double NumberOf(const genome::GeneValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  return std::get<double>(value);
}

// A value `d` places from `current` with weight 1/d^2.
int NearValue(int current, int n, absl::BitGenRef rng) {
  double total = 0;
  for (int v = 0; v < n; ++v) {
    if (v != current) total += 1.0 / ((v - current) * static_cast<double>(v - current));
  }
  double draw = absl::Uniform<double>(rng, 0, total);
  for (int v = 0; v < n; ++v) {
    if (v == current) continue;
    draw -= 1.0 / ((v - current) * static_cast<double>(v - current));
    if (draw < 0) return v;
  }
  return current == n - 1 ? n - 2 : n - 1;  // rounding left a sliver at the end
}

// Genomes completing `prefix` (genes [0, fixed) chosen, in declaration order) in a space
// with layer genes: for each number of layers the prefix allows, the product of the
// values of the genes still open and active.
uint64_t Completions(const genome::SearchSpace& space, const genome::Genome& prefix, int fixed) {
  const std::optional<int> layers = space.layers_gene();
  const int options = layers.has_value() ? space.num_values(*layers) : 1;
  uint64_t total = 0;
  for (int l = 0; l < options; ++l) {
    if (layers.has_value() && *layers < fixed && prefix.choice[*layers] != l) continue;
    const int64_t depth = space.LayersOf(l);
    uint64_t count = 1;
    bool possible = true;
    for (int g = 0; g < space.num_genes() && possible; ++g) {
      const bool active = space.layer(g) <= depth;
      if (g < fixed) {
        possible = active || prefix.choice[g] == 0;
      } else if (active && (!layers.has_value() || g != *layers)) {
        const uint64_t n = space.num_values(g);
        count = count > std::numeric_limits<uint64_t>::max() / n
                    ? std::numeric_limits<uint64_t>::max()
                    : count * n;
      }
    }
    if (possible) total += count;
  }
  return total;
}

}  // namespace

bool IsOrderedNumeric(const genome::SearchSpace& space, int gene) {
  const int n = space.num_values(gene);
  for (int v = 0; v < n; ++v) {
    if (std::holds_alternative<std::string>(space.value(gene, v))) return false;
  }
  bool increasing = true, decreasing = true;
  for (int v = 1; v < n; ++v) {
    const double a = NumberOf(space.value(gene, v - 1)), b = NumberOf(space.value(gene, v));
    increasing &= a < b;
    decreasing &= a > b;
  }
  return increasing || decreasing;
}

genome::Genome RandomGenome(const genome::SearchSpace& space, absl::BitGenRef rng) {
  genome::Genome genome;
  genome.choice.resize(space.num_genes());
  for (int g = 0; g < space.num_genes(); ++g) {
    genome.choice[g] = absl::Uniform<int>(rng, 0, space.num_values(g));
  }
  return genome::Canonical(space, std::move(genome));
}

genome::Genome FirstOrRandom(const genome::SearchSpace& space,
                             const std::vector<genome::Genome>& first, int64_t index,
                             absl::BitGenRef rng) {
  if (index >= 0 && index < static_cast<int64_t>(first.size())) return first[index];
  return RandomGenome(space, rng);
}

genome::Genome Mutate(const genome::SearchSpace& space, const genome::Genome& genome,
                      absl::BitGenRef rng, MutationStyle style) {
  genome::Genome child = genome;
  int g = 0;
  if (!space.has_layer_genes()) {
    g = absl::Uniform<int>(rng, 0, space.num_genes());
  } else {
    std::vector<int> active;
    for (int i = 0; i < space.num_genes(); ++i) {
      if (genome::IsActive(space, genome, i)) active.push_back(i);
    }
    g = active[absl::Uniform<size_t>(rng, 0, active.size())];
  }
  if (style == MutationStyle::kNear && IsOrderedNumeric(space, g)) {
    child.choice[g] = NearValue(genome.choice[g], space.num_values(g), rng);
  } else {
    // Uniform over the other values: draw from n-1 and skip the current one.
    int v = absl::Uniform<int>(rng, 0, space.num_values(g) - 1);
    if (v >= genome.choice[g]) ++v;
    child.choice[g] = v;
  }
  return genome::Canonical(space, std::move(child));
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
  return {genome::Canonical(space, std::move(first)), genome::Canonical(space, std::move(second))};
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
  // The walk keeps landing on seen genomes: the space is nearly used up. Take the first
  // unseen genome of the grid from a random place on, at a cost of the space's size at
  // most, whatever that size (audit F18: beyond 2^22 genomes this used to give up).
  const uint64_t start = absl::Uniform<uint64_t>(rng, 0, space.size());
  for (uint64_t i = 0; i < space.size(); ++i) {
    const uint64_t index = start + i < space.size() ? start + i : start + i - space.size();
    genome::Genome g = GridGenome(space, index);
    if (!seen.contains(g)) return g;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("search space exhausted: all ", space.size(), " genomes have been seen"));
}

genome::Genome GridGenome(const genome::SearchSpace& space, uint64_t index) {
  genome::Genome genome;
  genome.choice.resize(space.num_genes());
  if (space.has_layer_genes()) {
    // Mixed radix whose radices depend on the number of layers: each gene's value is
    // the first whose completions reach past `index`.
    for (int g = 0; g < space.num_genes(); ++g) {
      for (int v = 0; v < space.num_values(g); ++v) {
        genome.choice[g] = v;
        const uint64_t count = Completions(space, genome, g + 1);
        if (index < count) break;
        index -= count;
      }
    }
    return genome;
  }
  for (int g = space.num_genes() - 1; g >= 0; --g) {
    const uint64_t n = space.num_values(g);
    genome.choice[g] = static_cast<int>(index % n);
    index /= n;
  }
  return genome;
}

}  // namespace deepevolve::ga
