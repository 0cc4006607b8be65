#include "master/ga/sim.h"

#include <csv.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "genome/genes.h"
#include "genome/metrics.h"
#include "genome/pareto.h"
#include "master/ga/pruner.h"
#include "master/ga/spec.h"

namespace deepevolve::ga {
namespace {

genome::GeneValue ParseGeneValue(absl::string_view text) {
  int64_t i;
  double d;
  if (absl::SimpleAtoi(text, &i)) return i;
  if (absl::SimpleAtod(text, &d) && std::isfinite(d) &&
      text.find_first_of("0123456789") != absl::string_view::npos) {
    return d;
  }
  return std::string(text);
}

}  // namespace

const std::vector<std::string>& ResultColumns() {
  static const std::vector<std::string> kColumns = {
      "hash",       "id",       "mom",           "dad",
      "generation", "accuracy", "test_accuracy", "train_seconds",
      "epochs_run", "status",   "ledger_hit",    "seed",
      "worker",     "error",    "curve"};
  return kColumns;
}

bool IsResultColumn(absl::string_view column) {
  const std::vector<std::string>& written = ResultColumns();
  if (std::find(written.begin(), written.end(), column) != written.end()) return true;
  for (const char* c : {"val_accuracy", "uid", "parents", "search"}) {
    if (column == c) return true;
  }
  // The built-in trainer's metrics, which `deepevolve local` writes after them.
  return genome::IsBuiltinMetric(column);
}

absl::StatusOr<std::vector<std::vector<std::string>>> ReadCsv(absl::string_view csv,
                                                              absl::string_view source) {
  struct Reader {
    std::vector<std::vector<std::string>> records;
    std::vector<std::string> record;
  } reader;
  csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
    return absl::InternalError("libcsv could not start");
  }
  auto on_cell = [](void* cell, size_t size, void* data) {
    static_cast<Reader*>(data)->record.emplace_back(static_cast<const char*>(cell), size);
  };
  auto on_record = [](int, void* data) {
    Reader* r = static_cast<Reader*>(data);
    r->records.push_back(std::move(r->record));
    r->record.clear();
  };
  const size_t parsed = csv_parse(&parser, csv.data(), csv.size(), on_cell, on_record, &reader);
  const bool ok = parsed == csv.size() && csv_fini(&parser, on_cell, on_record, &reader) == 0;
  const std::string why = csv_strerror(csv_error(&parser));
  csv_free(&parser);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", reader.records.size() + 1, ": not CSV (", why, ")"));
  }
  return reader.records;
}

absl::StatusOr<FitnessTable> ParseFitnessTable(absl::string_view csv, absl::string_view source,
                                               const std::vector<std::string>& metric_columns) {
  ASSIGN_OR_RETURN(std::vector<std::vector<std::string>> records, ReadCsv(csv, source));
  // A blank line is no genome.
  records.erase(std::remove_if(records.begin(), records.end(),
                               [](const std::vector<std::string>& r) {
                                 return r.size() == 1 && absl::StripAsciiWhitespace(r[0]).empty();
                               }),
                records.end());
  if (records.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty table"));
  for (auto& record : records) {
    for (auto& c : record) c = std::string(absl::StripAsciiWhitespace(c));
  }
  const std::vector<std::string>& header = records[0];
  int accuracy_col = -1, status_col = -1, curve_col = -1, epochs_col = -1;
  std::vector<int> gene_cols;
  std::vector<std::pair<std::string, int>> metric_cols;
  for (int c = 0; c < static_cast<int>(header.size()); ++c) {
    if (header[c] == "accuracy") accuracy_col = c;
    if (header[c] == "status") status_col = c;
    if (header[c] == "curve") curve_col = c;
    if (header[c] == "epochs_run") epochs_col = c;
    const bool metric =
        std::find(metric_columns.begin(), metric_columns.end(), header[c]) != metric_columns.end();
    if (metric) metric_cols.emplace_back(header[c], c);
    if (!IsResultColumn(header[c]) && !metric) gene_cols.push_back(c);
  }
  for (const std::string& m : metric_columns) {
    if (std::find(header.begin(), header.end(), m) == header.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line 1: no '", m, "' column in the header"));
    }
  }
  if (accuracy_col < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line 1: no 'accuracy' column in the header"));
  }
  if (gene_cols.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line 1: no gene columns"));
  }
  // Genes the trainer knows have its meaning: a layer's width is inactive beyond
  // nb_layers, and its cell empty.
  const bool trainable = std::all_of(gene_cols.begin(), gene_cols.end(), [&](int c) {
    return genome::FindTrainerGene(header[c]) != nullptr;
  });

  std::vector<genome::Gene> genes(gene_cols.size());
  for (size_t g = 0; g < gene_cols.size(); ++g) genes[g].name = header[gene_cols[g]];
  struct Row {
    std::vector<std::optional<genome::GeneValue>> values;
    Fitness fitness;
    std::vector<double> curve;
    int epochs_run = 1;
    genome::Metrics metrics;
  };
  std::vector<Row> rows;
  for (size_t l = 1; l < records.size(); ++l) {
    const std::vector<std::string>& cells = records[l];
    const std::string where = absl::StrCat(source, ": line ", l + 1);
    if (cells.size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", cells.size(), " cells where the header has ", header.size()));
    }
    Row row;
    for (size_t g = 0; g < gene_cols.size(); ++g) {
      if (trainable && cells[gene_cols[g]].empty()) {
        row.values.push_back(std::nullopt);
        continue;
      }
      genome::GeneValue v = ParseGeneValue(cells[gene_cols[g]]);
      if (std::find(genes[g].values.begin(), genes[g].values.end(), v) == genes[g].values.end()) {
        genes[g].values.push_back(v);
      }
      row.values.push_back(std::move(v));
    }
    const absl::string_view acc = cells[accuracy_col];
    const bool failed = acc.empty() || absl::AsciiStrToLower(acc) == "nan" ||
                        (status_col >= 0 && cells[status_col] != "ok");
    if (!failed) {
      double a;
      if (!absl::SimpleAtod(acc, &a) || !(a >= 0 && a <= 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": accuracy '", acc, "' is not a number in [0, 1]"));
      }
      row.fitness = Fitness{true, a};
      for (const auto& [name, c] : metric_cols) {
        double v;
        if (!absl::SimpleAtod(cells[c], &v) || !std::isfinite(v)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": ", name, " '", cells[c], "' is not a number"));
        }
        row.metrics[name] = v;
      }
    } else {
      row.fitness = Fitness{false, 0};
    }
    if (curve_col >= 0 && !cells[curve_col].empty()) {
      for (absl::string_view point : absl::StrSplit(cells[curve_col], ';')) {
        double a;
        if (!absl::SimpleAtod(point, &a) || !(a >= 0 && a <= 1)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": curve point '", point, "' is not an accuracy in [0, 1]"));
        }
        row.curve.push_back(a);
      }
    }
    int epochs = 0;
    if (epochs_col >= 0 && absl::SimpleAtoi(cells[epochs_col], &epochs) && epochs > 0) {
      row.epochs_run = epochs;
    }
    if (!row.curve.empty()) row.epochs_run = static_cast<int>(row.curve.size());
    rows.push_back(std::move(row));
  }
  // A column of numbers some of which are written without a point ("0" beside "0.3", as
  // a grid's genomes.csv writes dropout) is a column of reals.
  auto as_real = [](genome::GeneValue& v) {
    if (const int64_t* i = std::get_if<int64_t>(&v)) v = static_cast<double>(*i);
  };
  for (size_t g = 0; g < genes.size(); ++g) {
    std::vector<genome::GeneValue>& values = genes[g].values;
    bool any_real = false, any_text = false;
    for (const genome::GeneValue& v : values) {
      any_real |= std::holds_alternative<double>(v);
      any_text |= std::holds_alternative<std::string>(v);
    }
    if (!any_real || any_text) continue;
    std::vector<genome::GeneValue> promoted;
    for (genome::GeneValue v : values) {
      as_real(v);
      if (std::find(promoted.begin(), promoted.end(), v) == promoted.end()) promoted.push_back(v);
    }
    values = std::move(promoted);
    for (Row& row : rows) {
      if (row.values[g].has_value()) as_real(*row.values[g]);
    }
  }
  for (genome::Gene& gene : genes) {
    if (std::all_of(
            gene.values.begin(), gene.values.end(),
            [](const genome::GeneValue& v) { return std::holds_alternative<int64_t>(v); }) ||
        std::all_of(gene.values.begin(), gene.values.end(),
                    [](const genome::GeneValue& v) { return std::holds_alternative<double>(v); })) {
      std::sort(gene.values.begin(), gene.values.end());
    }
  }
  auto space = genome::SearchSpace::Create(
      genes, trainable ? genome::GeneNames::kTrainable : genome::GeneNames::kAny);
  if (!space.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the gene columns do not make a search space: ", space.status().message()));
  }
  FitnessTable table{*std::move(space), {}, 0, {}, {}, 0, {}};
  for (size_t r = 0; r < rows.size(); ++r) {
    genome::NamedGenome a;
    for (size_t g = 0; g < genes.size(); ++g) {
      if (rows[r].values[g].has_value()) a.emplace_back(genes[g].name, *rows[r].values[g]);
    }
    absl::StatusOr<genome::Genome> genome = genome::FromNamedGenome(table.space, a);
    if (!genome.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", r + 2, ": ", genome.status().message()));
    }
    if (!table.fitness.emplace(*genome, rows[r].fitness).second) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", r + 2, ": genome ",
                                                     genome::DescribeGenome(table.space, *genome),
                                                     " appears twice"));
    }
    if (rows[r].fitness.ok) table.best = std::max(table.best, rows[r].fitness.accuracy);
    if (!rows[r].curve.empty()) table.curves[*genome] = rows[r].curve;
    table.epochs_run[*genome] = rows[r].epochs_run;
    table.epochs = std::max(table.epochs, rows[r].epochs_run);
    if (!metric_cols.empty()) table.metrics[*genome] = std::move(rows[r].metrics);
  }
  return table;
}

absl::StatusOr<TableObjectives> TableObjectives::Create(const FitnessTable& table,
                                                        const v1::SearchSpec& spec) {
  const genome::Objectives objectives(spec);
  std::vector<std::string> named;
  for (const v1::Objective& o : spec.objectives()) named.push_back(o.metric());
  for (const v1::Constraint& c : spec.constraints()) named.push_back(c.metric());
  for (const std::string& m : named) {
    if (m == "accuracy") continue;
    const bool present = std::any_of(table.metrics.begin(), table.metrics.end(),
                                     [&](const auto& row) { return row.second.count(m) > 0; });
    if (!present) {
      return absl::FailedPreconditionError(
          absl::StrCat("the table has no '", m, "' column for the search's objectives"));
    }
  }
  TableObjectives out(spec);
  std::vector<std::vector<double>> feasible;
  for (const auto& [g, fitness] : table.fitness) {
    v1::Trial t;
    t.set_state(fitness.ok ? v1::DONE : v1::TRIAL_FAILED);
    t.set_accuracy(fitness.accuracy);
    if (auto m = table.metrics.find(g); m != table.metrics.end()) {
      genome::CopyMetrics(m->second, t.mutable_metrics());
      genome::CopyMetrics(m->second, out.final_metrics_[g].mutable_metrics());
    }
    genome::ParetoPoint point = objectives.Point(t);
    Fitness f = fitness;
    f.objectives = point.values;
    f.violation = point.violation;
    if (f.ok && f.violation == 0) feasible.push_back(f.objectives);
    out.fitness_.emplace(g, std::move(f));
  }
  const size_t m = objectives.objectives().size();
  out.low_.assign(m, 0);
  out.high_.assign(m, 1);
  // Scaled between the table's front's best and worst in each objective (its ideal and
  // nadir points): what lies beyond the nadir adds nothing, so that a share tells how
  // much of the front a search found rather than how far it got from the table's worst.
  const std::vector<int> fronts = genome::NonDominatedFronts(feasible);
  std::vector<std::vector<double>> front;
  for (size_t i = 0; i < feasible.size(); ++i) {
    if (fronts[i] == 0) front.push_back(feasible[i]);
  }
  if (!front.empty()) {
    out.low_ = out.high_ = front[0];
    for (const std::vector<double>& v : front) {
      for (size_t k = 0; k < m; ++k) {
        out.low_[k] = std::min(out.low_[k], v[k]);
        out.high_[k] = std::max(out.high_[k], v[k]);
      }
    }
  }
  std::vector<std::vector<double>> scaled;
  for (const std::vector<double>& v : feasible) scaled.push_back(out.Scaled(v));
  out.table_volume_ = genome::Hypervolume(std::move(scaled), std::vector<double>(m, -0.01));
  return out;
}

std::vector<double> TableObjectives::Scaled(const std::vector<double>& values) const {
  std::vector<double> out(values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    const double range = high_[k] - low_[k];
    out[k] = range > 0 ? (values[k] - low_[k]) / range : 0;
  }
  return out;
}

EpochScore TableObjectives::AtEpoch(const genome::Genome& g, int64_t id, double accuracy) const {
  auto it = final_metrics_.find(g);
  v1::EpochPoint e = it != final_metrics_.end() ? it->second : v1::EpochPoint();
  e.set_val_accuracy(accuracy);
  return {accuracy, objectives_.AtEpoch(id, e)};
}

void TableObjectives::Add(const genome::Genome& g) {
  const Fitness& f = fitness_.at(g);
  if (f.ok && !f.pruned && f.violation == 0) found_.push_back(Scaled(f.objectives));
}

double TableObjectives::Share() const {
  if (table_volume_ <= 0) return 0;
  return genome::Hypervolume(found_, std::vector<double>(low_.size(), -0.01)) / table_volume_;
}

absl::StatusOr<SimRun> Simulate(const FitnessTable& table, const v1::SearchSpec& spec,
                                double target, uint64_t seed, int workers) {
  if (spec.has_pbt()) {
    return absl::FailedPreconditionError(
        "pbt cannot be simulated: its members go on from each other's weights under changed "
        "training genes, which no table of finished trainings holds");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Strategy> strategy, MakeStrategy(table.space, spec));
  std::unique_ptr<Pruner> pruner = MakePruner(spec.pruner(), table.epochs, IsMultiObjective(spec));
  if (pruner != nullptr && table.curves.empty()) {
    return absl::FailedPreconditionError(
        "the table has no curve column: a pruner decides on each genome's accuracy after each "
        "epoch (a grid run's genomes.csv has it)");
  }
  if (workers < 1) return absl::InvalidArgumentError("workers: at least 1");
  // With several objectives each row's fitness carries them, and the run measures the
  // hypervolume it reaches instead of a target.
  std::optional<TableObjectives> objectives;
  if (IsMultiObjective(spec)) {
    ASSIGN_OR_RETURN(TableObjectives made, TableObjectives::Create(table, spec));
    objectives = std::move(made);
  }
  std::mt19937_64 rng(seed);
  // How long each epoch of a genome takes, on a worker of its own: drawn from a stream
  // of its own, so that the strategy's draws are the same with any number of workers.
  std::mt19937_64 clock_rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::uniform_real_distribution<double> epoch_seconds(0.5, 1.5);

  // A genome in training: it reaches the end of epoch `epoch` at `at`.
  struct Training {
    double at = 0;
    double per_epoch = 1;
    int epoch = 1;
    Candidate candidate;
    const Fitness* fitness = nullptr;
    const std::vector<double>* curve = nullptr;  // when a pruner watches it
    int epochs = 1;
  };
  std::vector<Training> training;
  double now = 0;
  SimRun run;
  while (true) {
    const int free = workers - static_cast<int>(training.size());
    if (free > 0 && !strategy->Done()) {
      ASSIGN_OR_RETURN(std::vector<Candidate> next, strategy->Next(free, rng));
      for (Candidate& c : next) {
        auto it = table.fitness.find(c.genome);
        if (it == table.fitness.end()) {
          return absl::NotFoundError(absl::StrCat("the table has no row for genome ",
                                                  genome::DescribeGenome(table.space, c.genome)));
        }
        Training t;
        t.fitness = objectives.has_value() ? &objectives->fitness(c.genome) : &it->second;
        t.epochs = table.epochs_run.at(c.genome);
        if (auto curve = table.curves.find(c.genome);
            pruner != nullptr && curve != table.curves.end()) {
          t.curve = &curve->second;
          t.epochs = static_cast<int>(curve->second.size());
        }
        t.per_epoch = workers > 1 ? epoch_seconds(clock_rng) : 1;
        // Without a pruner only the last epoch matters: one step to the end.
        t.epoch = t.curve != nullptr ? 1 : t.epochs;
        t.at = now + t.per_epoch * t.epoch;
        t.candidate = std::move(c);
        training.push_back(std::move(t));
      }
    }
    if (training.empty()) {
      if (strategy->Done()) break;  // a generation with nothing left to train
      return absl::InternalError("strategy is waiting with no genome in flight");
    }
    // The next epoch to end, the earliest handed out first among equal times.
    size_t i = 0;
    for (size_t j = 1; j < training.size(); ++j) {
      if (training[j].at < training[i].at) i = j;
    }
    Training& t = training[i];
    now = t.at;
    Fitness fitness = *t.fitness;
    if (t.curve != nullptr) {
      const double accuracy = (*t.curve)[t.epoch - 1];
      const EpochScore score =
          objectives.has_value() ? objectives->AtEpoch(t.candidate.genome, t.candidate.id, accuracy)
                                 : EpochScore{accuracy, std::nullopt};
      const bool stop = pruner->Record(t.candidate.id, t.epoch, score);
      if (!stop && t.epoch < t.epochs) {
        ++t.epoch;
        t.at = now + t.per_epoch;
        continue;
      }
      if (stop) {
        fitness = Fitness{true, accuracy, /*pruned=*/true};
        if (score.point.has_value()) {  // ranked among the pruned by where it stopped
          fitness.objectives = score.point->values;
          fitness.violation = score.point->violation;
        }
        ++run.pruned;
      }
    }
    if (pruner != nullptr) pruner->Finished(t.candidate.id, fitness.ok && !fitness.pruned);
    ++run.evaluations;
    run.epochs += t.epoch;
    const int64_t id = t.candidate.id;
    if (objectives.has_value() && !fitness.pruned) {
      objectives->Add(t.candidate.genome);
      for (int64_t at : kHypervolumeAt) {
        if (run.evaluations == at) run.hypervolume.push_back(objectives->Share());
      }
    }
    if (fitness.ok && !fitness.pruned)
      run.trained.push_back({t.candidate.genome, fitness.accuracy});
    training.erase(training.begin() + static_cast<std::ptrdiff_t>(i));
    RETURN_IF_ERROR(strategy->Report(id, fitness));
    if (fitness.ok && !fitness.pruned) {
      run.best = std::max(run.best, fitness.accuracy);
      if (!objectives.has_value() && fitness.accuracy >= target) {
        run.reached = true;
        break;
      }
    }
  }
  while (objectives.has_value() && run.hypervolume.size() < std::size(kHypervolumeAt)) {
    run.hypervolume.push_back(objectives->Share());
  }
  return run;
}

double ExpectedRandomOrderCost(int64_t total, int64_t hits) {
  return static_cast<double>(total + 1) / static_cast<double>(hits + 1);
}

}  // namespace deepevolve::ga
