#include "cli/commands.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/spec_flags.h"
#include "genome/genome.h"
#include "genome/space.h"
#include "master/ga/operators.h"
#include "master/ga/presets.h"
#include "master/ga/sim.h"
#include "master/ga/spec.h"
#include "master/ga/strategies.h"

namespace deepevolve::cli {

int RunHash(const std::vector<std::string>& assignments, bool verbose, std::ostream& out,
            std::ostream& err) {
  if (assignments.empty()) {
    err << "deepevolve hash: give the genes as name=value, e.g. "
           "nb_neurons=64 activation=relu nb_layers=2 optimizer=adam\n";
    return 2;
  }
  genome::NamedGenome assignment;
  for (const std::string& arg : assignments) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      err << "deepevolve hash: '" << arg << "' is not name=value\n";
      return 2;
    }
    const std::string name = arg.substr(0, eq);
    for (const auto& [existing, unused] : assignment) {
      if (existing == name) {
        err << "deepevolve hash: gene '" << name << "' given twice\n";
        return 2;
      }
    }
    const std::string text = arg.substr(eq + 1);
    int64_t i;
    if (absl::SimpleAtoi(text, &i)) {
      assignment.emplace_back(name, i);
    } else {
      assignment.emplace_back(name, text);
    }
  }
  if (verbose) out << genome::IdentityString(assignment) << " ";
  out << genome::GenomeHash(assignment) << "\n";
  return 0;
}

int RunPresets(std::ostream& out) {
  out << absl::StrFormat("%-22s %-14s %-4s %9s  %s\n", "preset", "dataset", "net", "size", "genes");
  for (const ga::Preset& p : ga::Presets()) {
    auto space = genome::SearchSpace::FromProto(p.space);
    std::vector<std::string> genes;
    for (const genome::Gene& g : space->genes()) {
      std::vector<std::string> values;
      for (const auto& v : g.values) values.push_back(genome::GeneValueToString(v));
      genes.push_back(absl::StrCat(g.name, "=[", absl::StrJoin(values, ","), "]"));
    }
    out << absl::StrFormat("%-22s %-14s %-4s %9d  %s\n", p.name, p.task.dataset(),
                           v1::NetKind_Name(p.task.net()), space->size(),
                           absl::StrJoin(genes, " "));
  }
  return 0;
}

namespace {

// The nearest-rank percentile of sorted values; infinity stands for "not reached".
double Percentile(const std::vector<double>& sorted, double p) {
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::max<size_t>(rank, 1) - 1];
}

std::string Evaluations(double v) {
  return std::isinf(v) ? std::string("not reached") : absl::StrFormat("%.0f", v);
}

// The hypervolume shares of `seeds` runs (each kHypervolumeAt long), a line per count
// of evaluations: median and 10th percentile.
void PrintShares(const std::string& who, std::vector<std::vector<double>> shares,
                 std::ostream& out) {
  std::string line = absl::StrFormat("%-28s", who);
  for (size_t k = 0; k < std::size(ga::kHypervolumeAt); ++k) {
    std::vector<double> at;
    for (const std::vector<double>& run : shares) at.push_back(run[k]);
    std::sort(at.begin(), at.end());
    absl::StrAppendFormat(&line, "  %5.3f (p10 %5.3f)", Percentile(at, 50), Percentile(at, 10));
  }
  out << line << "\n";
}

// With objectives: each seed's hypervolume shares, and random order's.
int RunMultiObjectiveSim(const SimOptions& o, const ga::FitnessTable& table,
                         const v1::SearchSpec& spec, std::ostream& out, std::ostream& err) {
  absl::StatusOr<ga::TableObjectives> objectives = ga::TableObjectives::Create(table, spec);
  if (!objectives.ok()) {
    err << "deepevolve sim: " << objectives.status().message() << "\n";
    return 2;
  }
  std::vector<std::string> goals;
  for (const v1::Objective& ob : spec.objectives()) {
    goals.push_back(absl::StrCat(ob.metric(), ":", ob.goal() == "minimize" ? "min" : "max"));
  }
  out << absl::StrFormat(
      "table %s: %d genomes; objectives %s; hypervolume share after 50 / 100 / 200 "
      "evaluations, median (10th percentile) of %d seeds\n",
      o.table_path, table.fitness.size(), absl::StrJoin(goals, ", "), o.seeds);
  std::vector<genome::Genome> rows;
  for (const auto& [g, fitness] : table.fitness) rows.push_back(g);
  // In the table's own order (hash maps have none of their own to rely on).
  std::sort(rows.begin(), rows.end(),
            [](const genome::Genome& a, const genome::Genome& b) { return a.choice < b.choice; });
  std::vector<std::vector<double>> ours, random;
  for (int s = 0; s < o.seeds; ++s) {
    const uint64_t seed = o.first_seed + s;
    auto run = ga::Simulate(table, spec, 1.0, seed, o.workers);
    if (!run.ok()) {
      err << "deepevolve sim: seed " << seed << ": " << run.status().message() << "\n";
      return 1;
    }
    ours.push_back(run->hypervolume);
    // Random order: the table's rows shuffled by the same seed.
    std::mt19937_64 rng(seed);
    std::vector<genome::Genome> order = rows;
    std::shuffle(order.begin(), order.end(), rng);
    ga::TableObjectives measured = *objectives;
    std::vector<double> shares;
    for (size_t i = 0; shares.size() < std::size(ga::kHypervolumeAt); ++i) {
      if (i < order.size()) measured.Add(order[i]);
      if (i + 1 >= static_cast<size_t>(ga::kHypervolumeAt[shares.size()]) ||
          i + 1 >= order.size()) {
        shares.push_back(measured.Share());
      }
    }
    random.push_back(std::move(shares));
    if (o.per_seed) {
      out << absl::StrFormat("seed %d: %s\n", seed,
                             absl::StrJoin(run->hypervolume, " ", [](std::string* out, double v) {
                               absl::StrAppendFormat(out, "%.3f", v);
                             }));
    }
  }
  PrintShares(ga::StrategyName(spec), ours, out);
  PrintShares("random order", random, out);
  return 0;
}

// A fitness table from its file: NOT_FOUND "cannot open table 'PATH'", or the parser's
// error naming the file and line.
absl::StatusOr<ga::FitnessTable> LoadTable(const std::string& path,
                                           const std::vector<std::string>& metric_columns) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open table '", path, "'"));
  std::stringstream text;
  text << file.rdbuf();
  return ga::ParseFitnessTable(text.str(), path, metric_columns);
}

}  // namespace

int RunSim(const SimOptions& o, std::ostream& out, std::ostream& err) {
  std::vector<std::string> metric_columns;
  std::vector<v1::Objective> objectives;
  for (const std::string& flag : o.objectives) {
    absl::StatusOr<v1::Objective> objective = ParseObjective(flag);
    if (!objective.ok()) {
      err << "deepevolve sim: " << objective.status().message() << "\n";
      return 2;
    }
    if (objective->metric() != "accuracy") metric_columns.push_back(objective->metric());
    objectives.push_back(*std::move(objective));
  }
  auto table = LoadTable(o.table_path, metric_columns);
  if (!table.ok()) {
    err << "deepevolve sim: " << table.status().message() << "\n";
    return 1;
  }

  double target;
  if (absl::StartsWith(o.target, "best-")) {
    double gap;
    if (!absl::SimpleAtod(o.target.substr(5), &gap) || gap < 0) {
      err << "deepevolve sim: --target '" << o.target
          << "': expected best-<gap>, e.g. best-0.005\n";
      return 2;
    }
    target = table->best - gap;
  } else if (!absl::SimpleAtod(o.target, &target) || !(target >= 0 && target <= 1)) {
    err << "deepevolve sim: --target '" << o.target
        << "': expected an accuracy in [0, 1] or best-<gap>\n";
    return 2;
  }
  if (o.seeds < 1) {
    err << "deepevolve sim: --seeds must be at least 1\n";
    return 2;
  }
  if (o.workers < 1 || o.workers > 4096) {
    err << "deepevolve sim: --workers must be in [1, 4096]\n";
    return 2;
  }

  v1::SearchSpec spec;
  *spec.mutable_space() = table->space.ToProto();
  spec.mutable_task()->set_dataset("fashion_mnist");  // only to satisfy resolution
  spec.mutable_task()->set_net(v1::MLP);
  spec.mutable_task()->set_epochs(std::max(1, table->epochs));
  if (o.pruner == "median") {
    v1::MedianPruner* m = spec.mutable_pruner()->mutable_median();
    if (o.warmup_epochs > 0) m->set_warmup_epochs(o.warmup_epochs);
    if (o.min_trials > 0) m->set_min_trials(o.min_trials);
  } else if (o.pruner == "asha") {
    v1::AshaPruner* a = spec.mutable_pruner()->mutable_asha();
    if (o.min_epochs > 0) a->set_min_epochs(o.min_epochs);
    if (o.reduction_factor > 0) a->set_reduction_factor(o.reduction_factor);
  } else if (o.pruner != "none") {
    err << "deepevolve sim: unknown --pruner '" << o.pruner << "' (known: none, median, asha)\n";
    return 2;
  }
  if (!ga::SetStrategy(o.strategy, &spec).ok()) {
    err << "deepevolve sim: unknown --strategy '" << o.strategy
        << "' (known: " << ga::StrategyList(", ") << ")\n";
    return 2;
  }
  ga::StrategyKnobs knobs;
  knobs.population = o.population;
  knobs.generations = o.generations;
  knobs.trials = o.trials;
  knobs.tournament_size = o.tournament_size;
  knobs.candidates = o.candidates;
  knobs.warmup = o.warmup;
  knobs.explore = o.explore;
  if (absl::Status applied = ga::ApplyStrategyKnobs(knobs, &spec); !applied.ok()) {
    err << "deepevolve sim: " << applied.message() << "\n";
    return 2;
  }
  for (const v1::Objective& objective : objectives) *spec.add_objectives() = objective;
  // Tables may hold any genes, not only the trainable ones.
  auto resolved = ga::ResolveSearchSpec(spec, genome::GeneNames::kAny);
  if (!resolved.ok()) {
    err << "deepevolve sim: " << resolved.status().message() << "\n";
    return 2;
  }
  if (ga::IsMultiObjective(*resolved)) return RunMultiObjectiveSim(o, *table, *resolved, out, err);

  int64_t hits = 0;
  for (const auto& [genome, fitness] : table->fitness) {
    if (fitness.ok && fitness.accuracy >= target) ++hits;
  }
  int64_t grid_cost = 0;
  for (uint64_t i = 0; i < table->space.size(); ++i) {
    auto it = table->fitness.find(ga::GridGenome(table->space, i));
    if (it != table->fitness.end() && it->second.ok && it->second.accuracy >= target) {
      grid_cost = static_cast<int64_t>(i) + 1;
      break;
    }
  }

  out << absl::StrFormat("table %s: %d genomes, best %.4f, target %.4f (%d genomes reach it)\n",
                         o.table_path, table->fitness.size(), table->best, target, hits);
  std::optional<ga::FitnessTable> warm_table;
  v1::SearchSpec warm_spec;
  if (!o.warm_table.empty()) {
    auto parsed = LoadTable(o.warm_table, metric_columns);
    if (!parsed.ok()) {
      err << "deepevolve sim: --warm-table: " << parsed.status().message() << "\n";
      return 1;
    }
    warm_table = *std::move(parsed);
    warm_spec = *resolved;
    *warm_spec.mutable_space() = warm_table->space.ToProto();
    warm_spec.mutable_task()->set_epochs(std::max(1, warm_table->epochs));
    ga::StrategyKnobs warm_knobs;
    warm_knobs.trials = o.warm_trials;
    if (absl::Status applied = ga::ApplyStrategyKnobs(warm_knobs, &warm_spec); !applied.ok()) {
      err << "deepevolve sim: --warm-trials: " << applied.message() << "\n";
      return 2;
    }
    if (o.warm_best < 1 || o.warm_best > 1000) {
      err << "deepevolve sim: --warm-best must be in [1, 1000]\n";
      return 2;
    }
    out << absl::StrFormat("warm start: the best %d of %d genomes on %s (best %.4f) first\n",
                           o.warm_best, o.warm_trials, o.warm_table, warm_table->best);
  }
  std::vector<double> evaluations, epochs, warm_epochs;
  int reached = 0;
  for (int s = 0; s < o.seeds; ++s) {
    const uint64_t seed = o.first_seed + s;
    v1::SearchSpec seeded = *resolved;
    int64_t warm_cost = 0;
    if (warm_table.has_value()) {
      // Its own seed stream: the warm-up search is another search.
      auto warm =
          ga::Simulate(*warm_table, warm_spec, /*target=*/2.0, seed ^ 0x5bd1e995u, o.workers);
      if (!warm.ok()) {
        err << "deepevolve sim: seed " << seed << ": warm-up: " << warm.status().message() << "\n";
        return 1;
      }
      std::stable_sort(warm->trained.begin(), warm->trained.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      for (int k = 0; k < o.warm_best && k < static_cast<int>(warm->trained.size()); ++k) {
        v1::NamedGenes* named = seeded.mutable_warm_start()->add_genomes();
        for (const auto& [name, value] :
             genome::ToNamedGenome(warm_table->space, warm->trained[k].first)) {
          (*named->mutable_genes())[name] = genome::GeneValueToProto(value);
        }
      }
      warm_cost = warm->epochs;
    }
    auto run = ga::Simulate(*table, seeded, target, seed, o.workers);
    if (!run.ok()) {
      err << "deepevolve sim: seed " << seed << ": " << run.status().message() << "\n";
      return 1;
    }
    constexpr double kNever = std::numeric_limits<double>::infinity();
    evaluations.push_back(run->reached ? static_cast<double>(run->evaluations) : kNever);
    epochs.push_back(run->reached ? static_cast<double>(run->epochs) : kNever);
    warm_epochs.push_back(run->reached ? static_cast<double>(run->epochs + warm_cost) : kNever);
    reached += run->reached;
    if (o.per_seed) {
      const std::string pruned =
          spec.has_pruner() ? absl::StrFormat(", %d pruned", run->pruned) : "";
      const std::string warm =
          warm_table.has_value() ? absl::StrFormat(" (+ %d epochs warming up)", warm_cost) : "";
      if (run->reached) {
        out << absl::StrFormat("seed %d: %d evaluations, %d epochs%s%s\n", seed, run->evaluations,
                               run->epochs, pruned, warm);
      } else {
        out << absl::StrFormat(
            "seed %d: not reached after %d evaluations, %d epochs%s (best %.4f)\n", seed,
            run->evaluations, run->epochs, pruned, run->best);
      }
    }
  }
  std::sort(evaluations.begin(), evaluations.end());
  std::sort(epochs.begin(), epochs.end());
  const double median = Percentile(evaluations, 50);
  const double p90 = Percentile(evaluations, 90);
  const double brute = ga::ExpectedRandomOrderCost(table->fitness.size(), hits);
  out << absl::StrFormat(
      "strategy %s, pruner %s: reached in %d of %d seeds; median %s, p90 %s evaluations; "
      "median %s, p90 %s epochs\n",
      o.strategy, o.pruner, reached, o.seeds, Evaluations(median), Evaluations(p90),
      Evaluations(Percentile(epochs, 50)), Evaluations(Percentile(epochs, 90)));
  if (warm_table.has_value()) {
    std::sort(warm_epochs.begin(), warm_epochs.end());
    out << absl::StrFormat("with the warm-up search's epochs: median %s, p90 %s epochs\n",
                           Evaluations(Percentile(warm_epochs, 50)),
                           Evaluations(Percentile(warm_epochs, 90)));
  }
  out << absl::StrFormat("brute force: %s in grid order, %.1f expected in random order",
                         grid_cost > 0 ? absl::StrCat(grid_cost) : "never", brute);
  if (!std::isinf(median)) out << absl::StrFormat("; median speed-up %.2fx", brute / median);
  out << "\n";
  return 0;
}

}  // namespace deepevolve::cli
