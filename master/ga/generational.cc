#include "master/ga/generational.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/ga/selection.h"

namespace deepevolve::ga {

GenerationalStrategy::GenerationalStrategy(genome::SearchSpace space, GenerationalOptions options)
    : space_(std::move(space)), options_(options) {}

bool GenerationalStrategy::GenerationComplete() const {
  return generation_ > 0 && std::all_of(population_.begin(), population_.end(),
                                        [](const Member& m) { return m.fitness.has_value(); });
}

bool GenerationalStrategy::Done() const {
  return generation_ >= options_.generations && GenerationComplete();
}

int64_t GenerationalStrategy::PlannedTrials() const {
  // Every later generation retrains all but the elites and the expected lucky losers.
  const int n = options_.population;
  const int elites = std::max(2, static_cast<int>(std::floor(options_.retain * n)));
  const double trained_per_generation =
      options_.deepevolve_compat ? n - elites : (n - elites) * (1 - options_.random_select);
  return n + std::llround((options_.generations - 1) * std::max(0.0, trained_per_generation));
}

absl::StatusOr<genome::Genome> GenerationalStrategy::Admit(genome::Genome genome,
                                                           absl::BitGenRef rng) {
  ASSIGN_OR_RETURN(genome, MakeNovel(space_, std::move(genome), seen_, rng));
  seen_.insert(genome);
  return genome;
}

absl::Status GenerationalStrategy::CreateInitialPopulation(absl::BitGenRef rng) {
  generation_ = 1;
  for (int i = 0; i < options_.population; ++i) {
    Member m;
    ASSIGN_OR_RETURN(m.candidate.genome, Admit(FirstOrRandom(space_, options_.first, i, rng), rng));
    m.candidate.id = next_id_++;
    m.candidate.uid = next_uid_++;
    m.candidate.generation = 1;
    population_.push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<int, int>> GenerationalStrategy::PickParents(int pool_size,
                                                                      absl::BitGenRef rng) const {
  // The original samples two distinct indices from range(pool_size - 1).
  const int range = options_.deepevolve_compat ? pool_size - 1 : pool_size;
  if (range < 2) {
    return absl::FailedPreconditionError(absl::StrCat(
        "breeding pool of ", pool_size,
        " is too small to draw two distinct parents (DeepEvolve raises ValueError here)"));
  }
  const int a = absl::Uniform<int>(rng, 0, range);
  int b = absl::Uniform<int>(rng, 0, range - 1);
  if (b >= a) ++b;
  return std::make_pair(a, b);
}

absl::Status GenerationalStrategy::Evolve(absl::BitGenRef rng) {
  ++generation_;
  const bool compat = options_.deepevolve_compat;

  // Best first: by accuracy, or NSGA-II's order (front, then crowding distance).
  std::vector<const Fitness*> fitness;
  for (const Member& m : population_) fitness.push_back(&*m.fitness);
  std::vector<size_t> order(population_.size());
  std::iota(order.begin(), order.end(), 0);
  if (HasObjectives(fitness)) {
    const std::vector<int> position = ParetoPositions(fitness);
    for (size_t i = 0; i < population_.size(); ++i) order[position[i]] = i;
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return fitness[a]->rank() > fitness[b]->rank(); });
  }
  std::vector<Member> sorted;
  sorted.reserve(order.size());
  for (size_t i : order) sorted.push_back(population_[i]);

  // The original sizes everything by the current population, which can drift.
  const int n = compat ? static_cast<int>(population_.size()) : options_.population;
  int retain = static_cast<int>(std::floor(options_.retain * n));
  if (!compat) retain = std::max(2, retain);
  retain = std::min<int>(retain, sorted.size());

  std::vector<Member> next(sorted.begin(), sorted.begin() + retain);
  if (!compat) {
    for (Member& m : next) m.candidate.generation = generation_;
  }
  for (size_t i = retain; i < sorted.size(); ++i) {
    if (absl::Uniform<double>(rng, 0, 1) >= options_.random_select) continue;
    Member lucky = sorted[i];
    lucky.candidate.generation = generation_;
    if (compat) {
      // A deep copy collides in the ledger, so it is mutated into a new, untrained
      // genome that keeps the loser's id and parents.
      ASSIGN_OR_RETURN(lucky.candidate.genome, Admit(lucky.candidate.genome, rng));
      lucky.candidate.id = next_id_++;
      lucky.fitness.reset();
    }
    next.push_back(std::move(lucky));
  }

  const int pool = static_cast<int>(next.size());
  const int desired = n - pool;
  std::vector<Member> children;
  while (static_cast<int>(children.size()) < desired) {
    ASSIGN_OR_RETURN(auto parents, PickParents(pool, rng));
    const Candidate& mom = next[parents.first].candidate;
    const Candidate& dad = next[parents.second].candidate;
    auto [first, second] = Crossover(space_, mom.genome, dad.genome, rng);
    // The cap: without it (compat) both children of the last pair are kept.
    const bool keep_second = compat || static_cast<int>(children.size()) + 2 <= desired;
    genome::Genome* genomes[2] = {&first, &second};
    for (int c = 0; c < (keep_second ? 2 : 1); ++c) {
      if (absl::Uniform<double>(rng, 0, 1) < options_.mutate_chance) {
        *genomes[c] =
            Mutate(space_, *genomes[c], rng, compat ? MutationStyle::kUniform : options_.mutation);
      }
    }
    for (int c = 0; c < (keep_second ? 2 : 1); ++c) {
      Member child;
      ASSIGN_OR_RETURN(child.candidate.genome, Admit(std::move(*genomes[c]), rng));
      child.candidate.id = next_id_++;
      child.candidate.uid = next_uid_++;
      child.candidate.parents = {mom.uid, dad.uid};
      child.candidate.generation = generation_;
      children.push_back(std::move(child));
    }
  }

  for (Member& child : children) next.push_back(std::move(child));
  population_ = std::move(next);
  next_to_hand_out_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Candidate>> GenerationalStrategy::Next(int max_count,
                                                                  absl::BitGenRef rng) {
  if (generation_ == 0) RETURN_IF_ERROR(CreateInitialPopulation(rng));
  std::vector<Candidate> out;
  while (static_cast<int>(out.size()) < max_count) {
    // A generation in which everyone was kept has nothing to train: breed the next.
    if (GenerationComplete() && generation_ < options_.generations) {
      RETURN_IF_ERROR(Evolve(rng));
    }
    if (next_to_hand_out_ >= population_.size()) break;
    const size_t index = next_to_hand_out_++;
    const Member& m = population_[index];
    if (m.fitness.has_value()) continue;  // elites and kept losers are not retrained
    pending_[m.candidate.id] = index;
    out.push_back(m.candidate);
  }
  return out;
}

absl::Status GenerationalStrategy::Report(int64_t id, const Fitness& fitness) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    for (const Member& m : population_) {
      if (m.candidate.id == id && m.fitness.has_value()) {
        return absl::FailedPreconditionError(absl::StrCat("genome ", id, " already reported"));
      }
    }
    return absl::NotFoundError(absl::StrCat("genome ", id, " was not handed out"));
  }
  population_[it->second].fitness = fitness;
  pending_.erase(it);
  return absl::OkStatus();
}

}  // namespace deepevolve::ga
