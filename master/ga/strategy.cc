#include "master/ga/strategy.h"

#include "absl/status/status.h"
#include "master/ga/enumerating.h"
#include "master/ga/generational.h"
#include "master/ga/guided.h"
#include "master/ga/steady_state.h"

namespace deepevolve::ga {
namespace {

// Searches recorded before the choice existed mutated uniformly; they replay so.
MutationStyle MutationFrom(v1::Mutation mutation) {
  return mutation == v1::MUTATION_NEAR ? MutationStyle::kNear : MutationStyle::kUniform;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Strategy>> MakeStrategy(const genome::SearchSpace& space,
                                                       const v1::SearchSpec& spec) {
  switch (spec.strategy_case()) {
    case v1::SearchSpec::kGenerational: {
      const auto& p = spec.generational();
      GenerationalOptions o;
      o.population = p.population();
      o.generations = p.generations();
      o.retain = p.retain();
      o.random_select = p.random_select();
      o.mutate_chance = p.mutate_chance();
      o.deepevolve_compat = spec.deepevolve_compat();
      o.mutation = MutationFrom(p.mutation());
      return std::make_unique<GenerationalStrategy>(space, o);
    }
    case v1::SearchSpec::kSteadyState: {
      const auto& p = spec.steady_state();
      SteadyStateOptions o;
      o.population = p.population();
      o.tournament_size = p.tournament_size();
      o.trials = p.trials();
      o.mutate_chance = p.mutate_chance();
      o.mutation = MutationFrom(p.mutation());
      return std::make_unique<SteadyStateStrategy>(space, o);
    }
    case v1::SearchSpec::kGuided: {
      const auto& p = spec.guided();
      GuidedOptions o;
      o.population = p.population();
      o.tournament_size = p.tournament_size();
      o.trials = p.trials();
      o.mutate_chance = p.mutate_chance();
      o.mutation = MutationFrom(p.mutation());
      o.candidates = p.candidates();
      o.warmup = p.warmup();
      o.explore = p.explore();
      return std::make_unique<GuidedStrategy>(space, o);
    }
    case v1::SearchSpec::kRandom:
      return std::make_unique<EnumeratingStrategy>(space, EnumeratingStrategy::Order::kRandom,
                                                   spec.random().trials());
    case v1::SearchSpec::kGrid:
      return std::make_unique<EnumeratingStrategy>(space, EnumeratingStrategy::Order::kGrid,
                                                   spec.grid().trials());
    case v1::SearchSpec::STRATEGY_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("strategy: not set (resolve the spec first)");
}

}  // namespace deepevolve::ga
