#include "master/ga/guided.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "master/ga/selection.h"
#include "master/ga/steady_state.h"

namespace deepevolve::ga {

GuidedStrategy::GuidedStrategy(genome::SearchSpace space, GuidedOptions options)
    : space_(std::move(space)),
      options_(options),
      planned_(static_cast<int64_t>(
          std::min<uint64_t>(static_cast<uint64_t>(options.trials), space_.size()))) {}

int GuidedStrategy::generation() const {
  return static_cast<int>((next_id_ - 2) / options_.population) + 1;
}

std::vector<Member> GuidedStrategy::Population() const {
  return std::vector<Member>(population_.begin(), population_.end());
}

const Candidate& GuidedStrategy::Tournament(absl::BitGenRef rng) const {
  return TournamentWinner(population_, options_.tournament_size, rng, Positions());
}

absl::StatusOr<std::optional<Candidate>> GuidedStrategy::Evolve(absl::BitGenRef rng) {
  Candidate c;
  genome::Genome genome;
  if (next_id_ <= options_.population) {
    genome = FirstOrRandom(space_, options_.first, next_id_ - 1, rng);
  } else {
    if (population_.empty()) return std::nullopt;  // nothing trained to breed from yet
    c = TournamentChild(space_, population_, options_.tournament_size, options_.mutate_chance,
                        options_.mutation, rng, Positions());
    genome = std::move(c.genome);
  }
  ASSIGN_OR_RETURN(c.genome, MakeNovel(space_, std::move(genome), seen_, rng));
  return c;
}

std::optional<Candidate> GuidedStrategy::Screen(DensityRatio& model, bool explore,
                                                absl::BitGenRef rng) {
  std::vector<Candidate> bred;
  GenomeSet distinct;
  const int children = options_.candidates / 2;
  const int mutants = options_.candidates / 4;
  for (int i = 0; i < options_.candidates; ++i) {
    Candidate c;
    if (i < children) {
      c = TournamentChild(space_, population_, options_.tournament_size, options_.mutate_chance,
                          options_.mutation, rng, Positions());
    } else if (i < children + mutants) {
      const Candidate& parent = Tournament(rng);
      c.genome = Mutate(space_, parent.genome, rng, options_.mutation);
      c.parents = {parent.id, parent.id};
    } else {
      c.genome = model.SampleGood(rng);
    }
    if (seen_.contains(c.genome) || !distinct.insert(c.genome).second) continue;
    bred.push_back(std::move(c));
  }
  if (bred.empty()) return std::nullopt;
  if (explore) return std::move(bred[absl::Uniform<size_t>(rng, 0, bred.size())]);
  size_t best = 0;
  double best_score = model.Score(bred[0].genome);
  for (size_t i = 1; i < bred.size(); ++i) {
    const double score = model.Score(bred[i].genome);
    if (score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return std::move(bred[best]);
}

bool GuidedStrategy::Screens() const {
  return reported_ >= options_.warmup && !population_.empty() && results_.Informative();
}

absl::StatusOr<std::vector<Candidate>> GuidedStrategy::Next(int max_count, absl::BitGenRef rng) {
  std::vector<Candidate> out;
  std::optional<DensityRatio> model;
  if (Screens() && next_id_ <= planned_) {
    std::vector<const genome::Genome*> pending;
    for (const auto& [id, c] : pending_) pending.push_back(&c.genome);
    if (kernels_ == nullptr) kernels_ = DensityRatio::MakeKernels(space_);
    model = DensityRatio::Fit(space_, results_, pending, kernels_);
  }
  while (static_cast<int>(out.size()) < max_count && next_id_ <= planned_) {
    std::optional<Candidate> c;
    if (model.has_value()) {
      // One draw of `rng` seeds what this genome is bred from, so that Adopt takes it
      // back without breeding and scoring again.
      std::mt19937_64 engine(absl::Uniform<uint64_t>(rng));
      const bool explore = absl::Bernoulli(engine, options_.explore);
      c = Screen(*model, explore, engine);
      if (c.has_value() && !explore) ++guided_;
      if (!c.has_value()) {
        ASSIGN_OR_RETURN(c, Evolve(engine));  // never nullopt: it has a population
      }
      model->AddPending(c->genome);
    } else {
      ASSIGN_OR_RETURN(c, Evolve(rng));
    }
    if (!c.has_value()) break;
    out.push_back(Handed(*std::move(c)));
  }
  return out;
}

Candidate GuidedStrategy::Handed(Candidate c) {
  seen_.insert(c.genome);
  c.id = c.uid = next_id_++;
  c.generation = static_cast<int>((c.id - 1) / options_.population) + 1;
  pending_[c.id] = c;
  return c;
}

absl::Status GuidedStrategy::Adopt(const Candidate& candidate, absl::BitGenRef rng) {
  if (candidate.id != next_id_ || next_id_ > planned_) {
    return absl::FailedPreconditionError(
        absl::StrCat("genome ", candidate.id, " is not the one this search hands out next (",
                     next_id_ > planned_ ? "none" : absl::StrCat(next_id_), ")"));
  }
  if (Screens()) {
    if (seen_.contains(candidate.genome)) {
      return absl::FailedPreconditionError(
          absl::StrCat("genome ", candidate.id, " was handed out before under another id"));
    }
    (void)absl::Uniform<uint64_t>(rng);  // what Next drew to breed it from
  } else {
    // Aging evolution's genomes cost little: breed again, and check.
    ASSIGN_OR_RETURN(std::optional<Candidate> bred, Evolve(rng));
    if (!bred.has_value() || bred->genome != candidate.genome) {
      return absl::FailedPreconditionError(
          absl::StrCat("genome ", candidate.id, " is no longer the one it trained"));
    }
  }
  Handed(candidate);
  return absl::OkStatus();
}

absl::Status GuidedStrategy::Report(int64_t id, const Fitness& fitness) {
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    if (id >= 1 && id < next_id_) {
      return absl::FailedPreconditionError(absl::StrCat("genome ", id, " already reported"));
    }
    return absl::NotFoundError(absl::StrCat("genome ", id, " was not handed out"));
  }
  if (fitness.objectives.empty()) {
    results_.Add(it->second.genome, fitness.rank());
  } else {
    results_.Add(it->second.genome, PointOf(fitness, 0));
  }
  population_.push_back(Member{std::move(it->second), fitness});
  pending_.erase(it);
  ++reported_;
  while (static_cast<int>(population_.size()) > options_.population) population_.pop_front();
  // With several objectives, tournaments compare places in NSGA-II's order over the
  // population as it is now.
  positions_.clear();
  std::vector<const Fitness*> members;
  for (const Member& m : population_) members.push_back(&*m.fitness);
  if (HasObjectives(members)) positions_ = ParetoPositions(members);
  return absl::OkStatus();
}

}  // namespace deepevolve::ga
