// The strategies a search may name, one row each (ninja's kTools[] shape): the name in
// flags, spec files and output, the case of SearchSpec's oneof, the defaults and checks
// of its settings, and the Strategy it makes. Spec resolution, MakeStrategy,
// StrategyName and SetStrategy (spec.h), the CLI's flags (`local`, `submit`, `sim`) and
// its help read this table: a new strategy is a row here, its message in search.proto
// and its class.
#ifndef DEEPEVOLVE_MASTER_GA_STRATEGIES_H_
#define DEEPEVOLVE_MASTER_GA_STRATEGIES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/space.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

struct StrategyRow {
  const char* name;
  v1::SearchSpec::StrategyCase spec_case;
  // Runs as DeepEvolve's GA did (the spec's deepevolve_compat): generational_compat.
  bool compat = false;
  // Fills in the unset settings of the spec's strategy and checks them, naming the
  // field ("guided.trials: ..."); `space_size` bounds what depends on the space.
  absl::Status (*resolve)(v1::SearchSpec* spec, uint64_t space_size) = nullptr;
  // The strategy of a resolved spec, beginning with the genomes `first` (its warm start).
  std::unique_ptr<Strategy> (*make)(const genome::SearchSpace& space, const v1::SearchSpec& spec,
                                    std::vector<genome::Genome> first) = nullptr;
};

// Every row, in the order help and errors list them.
const std::vector<StrategyRow>& Strategies();
// The row of `spec`'s strategy; generational's for a spec with none.
const StrategyRow& StrategyOf(const v1::SearchSpec& spec);
// nullptr for an unknown name.
const StrategyRow* FindStrategy(absl::string_view name);
// Makes `row` the spec's strategy, keeping its settings when it is that one already.
void SelectStrategy(const StrategyRow& row, v1::SearchSpec* spec);
// The names joined by `separator`, the last two by " or " when `separator` is ", or "
// ("generational, generational_compat, ..., random or grid").
std::string StrategyList(absl::string_view separator = ", or ");

// The settings a command line gives a search's strategy; 0 (explore: below 0) is "not
// given".
struct StrategyKnobs {
  int population = 0, generations = 0, trials = 0, tournament_size = 0;
  int candidates = 0, warmup = 0;  // guided
  double explore = -1;             // guided
  int ready_epochs = 0;            // pbt
};

// Sets each given knob on the spec's strategy (a spec with none is generational): the
// field of that name in its message. INVALID_ARGUMENT naming the flag for a knob it
// does not have: "--population does not apply to the random strategy (only to
// generational, steady_state and guided)". Every command that takes these flags calls
// this, so all refuse the same flags in the same words.
absl::Status ApplyStrategyKnobs(const StrategyKnobs& knobs, v1::SearchSpec* spec);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_STRATEGIES_H_
