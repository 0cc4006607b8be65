#include "master/ga/strategies.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "master/ga/enumerating.h"
#include "master/ga/generational.h"
#include "master/ga/guided.h"
#include "master/ga/pbt.h"
#include "master/ga/spec.h"
#include "master/ga/spec_checks.h"
#include "master/ga/steady_state.h"

namespace deepevolve::ga {
namespace {

// Searches recorded before the choice existed mutated uniformly; they replay so.
MutationStyle MutationFrom(v1::Mutation mutation) {
  return mutation == v1::MUTATION_NEAR ? MutationStyle::kNear : MutationStyle::kUniform;
}

absl::Status ResolveGenerational(v1::SearchSpec* spec, uint64_t space_size) {
  auto* p = spec->mutable_generational();
  if (!p->has_population()) p->set_population(30);
  if (!p->has_generations()) p->set_generations(8);
  if (!p->has_retain()) p->set_retain(0.15);
  if (!p->has_random_select()) p->set_random_select(0.1);
  if (!p->has_mutate_chance()) p->set_mutate_chance(0.3);
  if (p->mutation() == v1::MUTATION_UNSPECIFIED) {
    p->set_mutation(spec->deepevolve_compat() ? v1::MUTATION_UNIFORM : v1::MUTATION_NEAR);
  }
  if (spec->deepevolve_compat() && p->mutation() != v1::MUTATION_UNIFORM) {
    return Invalid("generational.mutation",
                   "deepevolve_compat mutates as DeepEvolve did: MUTATION_UNIFORM");
  }
  RETURN_IF_ERROR(CheckRange("generational.population", p->population(), 2, kMaxPopulation));
  RETURN_IF_ERROR(CheckRange("generational.generations", p->generations(), 1, kMaxGenerations));
  if (int64_t{p->population()} * p->generations() > kMaxTrials) {
    return Invalid(
        "generational.population",
        absl::StrCat("population x generations is ", int64_t{p->population()} * p->generations(),
                     " genomes, above the limit of ", kMaxTrials));
  }
  RETURN_IF_ERROR(CheckFraction("generational.retain", p->retain()));
  RETURN_IF_ERROR(CheckFraction("generational.random_select", p->random_select()));
  RETURN_IF_ERROR(CheckFraction("generational.mutate_chance", p->mutate_chance()));
  if (static_cast<uint64_t>(p->population()) > space_size) {
    return Invalid("generational.population",
                   absl::StrCat("population ", p->population(), " exceeds the ", space_size,
                                " genomes of the space"));
  }
  return absl::OkStatus();
}

absl::Status ResolveSteadyState(v1::SearchSpec* spec, uint64_t) {
  auto* p = spec->mutable_steady_state();
  if (!p->has_population()) p->set_population(30);
  if (!p->has_tournament_size()) p->set_tournament_size(std::min(5, p->population()));
  if (!p->has_trials()) p->set_trials(240);
  if (!p->has_mutate_chance()) p->set_mutate_chance(0.3);
  if (p->mutation() == v1::MUTATION_UNSPECIFIED) p->set_mutation(v1::MUTATION_NEAR);
  RETURN_IF_ERROR(CheckRange("steady_state.population", p->population(), 2, kMaxPopulation));
  RETURN_IF_ERROR(
      CheckRange("steady_state.tournament_size", p->tournament_size(), 1, p->population()));
  RETURN_IF_ERROR(CheckRange("steady_state.trials", p->trials(), 1, kMaxTrials));
  return CheckFraction("steady_state.mutate_chance", p->mutate_chance());
}

absl::Status ResolveGuided(v1::SearchSpec* spec, uint64_t) {
  auto* p = spec->mutable_guided();
  if (!p->has_population()) p->set_population(30);
  if (!p->has_tournament_size()) p->set_tournament_size(std::min(5, p->population()));
  if (!p->has_trials()) p->set_trials(240);
  if (!p->has_mutate_chance()) p->set_mutate_chance(0.3);
  if (p->mutation() == v1::MUTATION_UNSPECIFIED) p->set_mutation(v1::MUTATION_NEAR);
  if (!p->has_candidates()) p->set_candidates(64);
  if (!p->has_warmup()) p->set_warmup(10);
  if (!p->has_explore()) p->set_explore(0.1);
  RETURN_IF_ERROR(CheckRange("guided.population", p->population(), 2, kMaxPopulation));
  RETURN_IF_ERROR(CheckRange("guided.tournament_size", p->tournament_size(), 1, p->population()));
  RETURN_IF_ERROR(CheckRange("guided.trials", p->trials(), 1, kMaxTrials));
  RETURN_IF_ERROR(CheckRange("guided.candidates", p->candidates(), 1, kMaxCandidates));
  RETURN_IF_ERROR(CheckRange("guided.warmup", p->warmup(), 2, kMaxTrials));
  RETURN_IF_ERROR(CheckFraction("guided.explore", p->explore()));
  return CheckFraction("guided.mutate_chance", p->mutate_chance());
}

absl::Status ResolvePbt(v1::SearchSpec* spec, uint64_t space_size) {
  auto* p = spec->mutable_pbt();
  const int epochs = spec->task().epochs();
  if (!p->has_population()) p->set_population(8);
  if (!p->has_ready_epochs()) p->set_ready_epochs(std::max(1, epochs / 4));
  if (!p->has_quantile()) p->set_quantile(0.25);
  if (!p->has_resample_probability()) p->set_resample_probability(0.25);
  RETURN_IF_ERROR(CheckRange("pbt.population", p->population(), 2, kMaxPopulation));
  RETURN_IF_ERROR(CheckRange("pbt.ready_epochs", p->ready_epochs(), 1, std::max(1, epochs)));
  RETURN_IF_ERROR(CheckFraction("pbt.quantile", p->quantile(), /*allow_zero=*/false));
  if (p->quantile() > 0.5) {
    return Invalid("pbt.quantile", absl::StrCat("at most 0.5 (the bottom and the top quantile "
                                                "do not overlap), got ",
                                                p->quantile()));
  }
  RETURN_IF_ERROR(CheckFraction("pbt.resample_probability", p->resample_probability()));
  const int64_t rounds = (epochs + p->ready_epochs() - 1) / p->ready_epochs();
  if (p->population() * rounds > kMaxTrials) {
    return Invalid("pbt.population",
                   absl::StrCat("population x rounds is ", p->population() * rounds,
                                " trials, above the limit of ", kMaxTrials));
  }
  if (static_cast<uint64_t>(p->population()) > space_size) {
    return Invalid("pbt.population", absl::StrCat("population ", p->population(), " exceeds the ",
                                                  space_size, " genomes of the space"));
  }
  return absl::OkStatus();
}

absl::Status ResolveRandom(v1::SearchSpec* spec, uint64_t) {
  auto* p = spec->mutable_random();
  if (!p->has_trials()) p->set_trials(240);
  return CheckRange("random.trials", p->trials(), 1, kMaxTrials);
}

absl::Status ResolveGrid(v1::SearchSpec* spec, uint64_t space_size) {
  auto* p = spec->mutable_grid();
  if (!p->has_trials()) {
    if (space_size > static_cast<uint64_t>(kMaxTrials)) {
      return Invalid("grid.trials",
                     absl::StrCat("the space has ", space_size, " genomes, more than the limit of ",
                                  kMaxTrials, "; set a budget"));
    }
    p->set_trials(static_cast<int32_t>(space_size));
  }
  return CheckRange("grid.trials", p->trials(), 1, kMaxTrials);
}

std::unique_ptr<Strategy> MakeGenerational(const genome::SearchSpace& space,
                                           const v1::SearchSpec& spec,
                                           std::vector<genome::Genome> first) {
  const auto& p = spec.generational();
  GenerationalOptions o;
  o.population = p.population();
  o.generations = p.generations();
  o.retain = p.retain();
  o.random_select = p.random_select();
  o.mutate_chance = p.mutate_chance();
  o.deepevolve_compat = spec.deepevolve_compat();
  o.mutation = MutationFrom(p.mutation());
  o.first = std::move(first);
  return std::make_unique<GenerationalStrategy>(space, o);
}

std::unique_ptr<Strategy> MakeSteadyState(const genome::SearchSpace& space,
                                          const v1::SearchSpec& spec,
                                          std::vector<genome::Genome> first) {
  const auto& p = spec.steady_state();
  SteadyStateOptions o;
  o.population = p.population();
  o.tournament_size = p.tournament_size();
  o.trials = p.trials();
  o.mutate_chance = p.mutate_chance();
  o.mutation = MutationFrom(p.mutation());
  o.first = std::move(first);
  return std::make_unique<SteadyStateStrategy>(space, o);
}

std::unique_ptr<Strategy> MakeGuided(const genome::SearchSpace& space, const v1::SearchSpec& spec,
                                     std::vector<genome::Genome> first) {
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
  o.first = std::move(first);
  return std::make_unique<GuidedStrategy>(space, o);
}

std::unique_ptr<Strategy> MakePbt(const genome::SearchSpace& space, const v1::SearchSpec& spec,
                                  std::vector<genome::Genome> first) {
  const auto& p = spec.pbt();
  PbtOptions o;
  o.population = p.population();
  o.ready_epochs = p.ready_epochs();
  o.epochs = spec.task().epochs();
  o.quantile = p.quantile();
  o.resample_probability = p.resample_probability();
  o.first = std::move(first);
  return std::make_unique<PbtStrategy>(space, o);
}

std::unique_ptr<Strategy> MakeRandom(const genome::SearchSpace& space, const v1::SearchSpec& spec,
                                     std::vector<genome::Genome> first) {
  return std::make_unique<EnumeratingStrategy>(space, EnumeratingStrategy::Order::kRandom,
                                               spec.random().trials(), std::move(first));
}

std::unique_ptr<Strategy> MakeGrid(const genome::SearchSpace& space, const v1::SearchSpec& spec,
                                   std::vector<genome::Genome> first) {
  return std::make_unique<EnumeratingStrategy>(space, EnumeratingStrategy::Order::kGrid,
                                               spec.grid().trials());  // warm starts are refused
}

}  // namespace

absl::StatusOr<std::vector<genome::Genome>> WarmStartGenomes(const genome::SearchSpace& space,
                                                             const v1::SearchSpec& spec) {
  std::vector<genome::Genome> out;
  GenomeSet distinct;
  std::string passed_over;
  for (int i = 0; i < spec.warm_start().genomes_size(); ++i) {
    genome::NamedGenome named;
    for (const auto& [name, value] : spec.warm_start().genomes(i).genes()) {
      named.emplace_back(name, genome::GeneValueFromProto(value));
    }
    absl::StatusOr<genome::Genome> g = genome::FromNamedGenome(space, named);
    if (!g.ok()) {
      if (passed_over.empty())
        passed_over = absl::StrCat("genome ", i + 1, ": ", g.status().message());
      continue;
    }
    if (distinct.insert(*g).second) out.push_back(*std::move(g));
  }
  if (out.empty() && spec.warm_start().genomes_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("warm_start: none of its ", spec.warm_start().genomes_size(),
                     " genomes is in this search's space (", passed_over, ")"));
  }
  return out;
}

namespace {

// The field of `spec`'s oneof that holds the strategy of `spec_case`.
const google::protobuf::FieldDescriptor* StrategyField(v1::SearchSpec::StrategyCase spec_case) {
  return v1::SearchSpec::descriptor()->FindFieldByNumber(spec_case);
}

}  // namespace

const std::vector<StrategyRow>& Strategies() {
  static const auto* rows = new std::vector<StrategyRow>{
      {"generational", v1::SearchSpec::kGenerational, false, ResolveGenerational, MakeGenerational},
      {"generational_compat", v1::SearchSpec::kGenerational, true, ResolveGenerational,
       MakeGenerational},
      {"steady_state", v1::SearchSpec::kSteadyState, false, ResolveSteadyState, MakeSteadyState},
      {"guided", v1::SearchSpec::kGuided, false, ResolveGuided, MakeGuided},
      {"pbt", v1::SearchSpec::kPbt, false, ResolvePbt, MakePbt},
      {"random", v1::SearchSpec::kRandom, false, ResolveRandom, MakeRandom},
      {"grid", v1::SearchSpec::kGrid, false, ResolveGrid, MakeGrid},
  };
  return *rows;
}

const StrategyRow& StrategyOf(const v1::SearchSpec& spec) {
  const v1::SearchSpec::StrategyCase c = spec.strategy_case() == v1::SearchSpec::STRATEGY_NOT_SET
                                             ? v1::SearchSpec::kGenerational
                                             : spec.strategy_case();
  const bool compat = c == v1::SearchSpec::kGenerational && spec.deepevolve_compat();
  for (const StrategyRow& row : Strategies()) {
    if (row.spec_case == c && row.compat == compat) return row;
  }
  return Strategies().front();  // every case has a row (strategies_test)
}

const StrategyRow* FindStrategy(absl::string_view name) {
  for (const StrategyRow& row : Strategies()) {
    if (name == row.name) return &row;
  }
  return nullptr;
}

void SelectStrategy(const StrategyRow& row, v1::SearchSpec* spec) {
  spec->GetReflection()->MutableMessage(spec, StrategyField(row.spec_case));
  if (row.spec_case == v1::SearchSpec::kGenerational) spec->set_deepevolve_compat(row.compat);
}

std::string StrategyList(absl::string_view separator) {
  std::vector<std::string> names;
  for (const StrategyRow& row : Strategies()) names.push_back(row.name);
  if (separator != ", or " || names.size() < 2) return absl::StrJoin(names, separator);
  const std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

absl::Status ApplyStrategyKnobs(const StrategyKnobs& knobs, v1::SearchSpec* spec) {
  if (spec->strategy_case() == v1::SearchSpec::STRATEGY_NOT_SET) spec->mutable_generational();
  const StrategyRow& row = StrategyOf(*spec);
  google::protobuf::Message* settings =
      spec->GetReflection()->MutableMessage(spec, StrategyField(row.spec_case));
  struct Knob {
    const char* field;
    const char* flag;
    bool given;
    double value;
  };
  const Knob all[] = {
      {"population", "--population", knobs.population > 0, double(knobs.population)},
      {"generations", "--generations", knobs.generations > 0, double(knobs.generations)},
      {"trials", "--trials", knobs.trials > 0, double(knobs.trials)},
      {"tournament_size", "--tournament", knobs.tournament_size > 0, double(knobs.tournament_size)},
      {"candidates", "--candidates", knobs.candidates > 0, double(knobs.candidates)},
      {"warmup", "--warmup", knobs.warmup > 0, double(knobs.warmup)},
      {"explore", "--explore", knobs.explore >= 0, knobs.explore},
      {"ready_epochs", "--ready-epochs", knobs.ready_epochs > 0, double(knobs.ready_epochs)},
  };
  for (const Knob& knob : all) {
    if (!knob.given) continue;
    const google::protobuf::FieldDescriptor* field =
        settings->GetDescriptor()->FindFieldByName(knob.field);
    if (field == nullptr) {
      std::vector<std::string> takers;
      for (const StrategyRow& other : Strategies()) {
        if (!other.compat &&
            StrategyField(other.spec_case)->message_type()->FindFieldByName(knob.field)) {
          takers.push_back(other.name);
        }
      }
      std::string only = takers.size() < 2
                             ? absl::StrJoin(takers, "")
                             : absl::StrCat(absl::StrJoin(takers.begin(), takers.end() - 1, ", "),
                                            " and ", takers.back());
      return absl::InvalidArgumentError(absl::StrCat(knob.flag, " does not apply to the ", row.name,
                                                     " strategy (only to ", only, ")"));
    }
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE) {
      settings->GetReflection()->SetDouble(settings, field, knob.value);
    } else {
      settings->GetReflection()->SetInt32(settings, field, static_cast<int32_t>(knob.value));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Strategy>> MakeStrategy(const genome::SearchSpace& space,
                                                       const v1::SearchSpec& spec) {
  if (spec.strategy_case() == v1::SearchSpec::STRATEGY_NOT_SET) {
    return absl::InvalidArgumentError("strategy: not set (resolve the spec first)");
  }
  ASSIGN_OR_RETURN(std::vector<genome::Genome> first, WarmStartGenomes(space, spec));
  return StrategyOf(spec).make(space, spec, std::move(first));
}

}  // namespace deepevolve::ga
