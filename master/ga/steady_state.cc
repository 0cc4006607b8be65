#include "master/ga/steady_state.h"

#include <algorithm>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/ga/selection.h"

namespace deepevolve::ga {

SteadyStateStrategy::SteadyStateStrategy(genome::SearchSpace space, SteadyStateOptions options)
    : space_(std::move(space)),
      options_(options),
      planned_(static_cast<int64_t>(
          std::min<uint64_t>(static_cast<uint64_t>(options.trials), space_.size()))) {}

int SteadyStateStrategy::generation() const {
  // No generations; report how many population-sized cohorts have been handed out.
  return static_cast<int>((next_id_ - 2) / options_.population) + 1;
}

std::vector<Member> SteadyStateStrategy::Population() const {
  return std::vector<Member>(population_.begin(), population_.end());
}

const Candidate& TournamentWinner(const std::deque<Member>& population, int size,
                                  absl::BitGenRef rng, const std::vector<int>* positions) {
  size_t best = population.size();
  for (int i = 0; i < size; ++i) {
    const size_t m = absl::Uniform<size_t>(rng, 0, population.size());
    const bool better =
        best == population.size() ||
        (positions != nullptr ? (*positions)[m] < (*positions)[best]
                              : population[m].fitness->rank() > population[best].fitness->rank());
    if (better) best = m;
  }
  return population[best].candidate;
}

Candidate TournamentChild(const genome::SearchSpace& space, const std::deque<Member>& population,
                          int tournament_size, double mutate_chance, MutationStyle mutation,
                          absl::BitGenRef rng, const std::vector<int>* positions) {
  const Candidate& mom = TournamentWinner(population, tournament_size, rng, positions);
  const Candidate& dad = TournamentWinner(population, tournament_size, rng, positions);
  Candidate child;
  child.genome = Crossover(space, mom.genome, dad.genome, rng).first;
  child.parents = {mom.id, dad.id};
  if (absl::Uniform<double>(rng, 0, 1) < mutate_chance) {
    child.genome = Mutate(space, child.genome, rng, mutation);
  }
  return child;
}

absl::StatusOr<std::vector<Candidate>> SteadyStateStrategy::Next(int max_count,
                                                                 absl::BitGenRef rng) {
  std::vector<Candidate> out;
  // With several objectives, tournaments compare places in NSGA-II's order (front, then
  // crowding distance) over the population as it is now.
  std::vector<const Fitness*> fitness;
  for (const Member& m : population_) fitness.push_back(&*m.fitness);
  std::optional<std::vector<int>> positions;
  if (HasObjectives(fitness)) positions = ParetoPositions(fitness);
  while (static_cast<int>(out.size()) < max_count && next_id_ <= planned_) {
    Candidate c;
    genome::Genome genome;
    if (next_id_ <= options_.population) {
      genome = FirstOrRandom(space_, options_.first, next_id_ - 1, rng);
    } else {
      if (population_.empty()) break;  // nothing trained to breed from yet
      c = TournamentChild(space_, population_, options_.tournament_size, options_.mutate_chance,
                          options_.mutation, rng, positions.has_value() ? &*positions : nullptr);
      genome = std::move(c.genome);
    }
    ASSIGN_OR_RETURN(c.genome, MakeNovel(space_, std::move(genome), seen_, rng));
    seen_.insert(c.genome);
    c.id = c.uid = next_id_++;
    c.generation = static_cast<int>((c.id - 1) / options_.population) + 1;
    pending_[c.id] = c;
    out.push_back(std::move(c));
  }
  return out;
}

absl::Status SteadyStateStrategy::Report(int64_t id, const Fitness& fitness) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    if (id >= 1 && id < next_id_) {
      return absl::FailedPreconditionError(absl::StrCat("genome ", id, " already reported"));
    }
    return absl::NotFoundError(absl::StrCat("genome ", id, " was not handed out"));
  }
  population_.push_back(Member{std::move(it->second), fitness});
  pending_.erase(it);
  ++reported_;
  // Aging: the oldest member leaves, whatever its fitness.
  while (static_cast<int>(population_.size()) > options_.population) population_.pop_front();
  return absl::OkStatus();
}

}  // namespace deepevolve::ga
