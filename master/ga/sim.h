// Running a strategy against a table of known fitnesses, without training: how
// strategies are compared.
#ifndef DEEPEVOLVE_MASTER_GA_SIM_H_
#define DEEPEVOLVE_MASTER_GA_SIM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"
#include "genome/metrics.h"
#include "genome/pareto.h"
#include "genome/space.h"
#include "master/ga/pruner.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

// The fitness of every genome of a space, as a grid run records it.
struct FitnessTable {
  genome::SearchSpace space;
  absl::flat_hash_map<genome::Genome, Fitness> fitness;
  double best = 0;  // the best accuracy of a successful row
  // The validation accuracy after each epoch (the `curve` column), for the rows that
  // have one, and the epochs each row trained (its curve's, else `epochs_run`, else 1):
  // what a pruner decides on and what training a genome costs.
  absl::flat_hash_map<genome::Genome, std::vector<double>> curves;
  absl::flat_hash_map<genome::Genome, int> epochs_run;
  int epochs = 0;  // the longest: the task's epochs
  // The metric columns named when parsing (params, latency_ms, ...), by row.
  absl::flat_hash_map<genome::Genome, genome::Metrics> metrics;
};

// The columns `deepevolve local` writes to genomes.csv after the genes, in order.
const std::vector<std::string>& ResultColumns();
// Columns of a results CSV that are not genes: ResultColumns() and a few other names
// tables made by hand use (val_accuracy, uid, parents, search).
bool IsResultColumn(absl::string_view column);

// Every record of `csv` (RFC 4180, by libcsv: quoted cells may hold commas and line
// breaks). INVALID_ARGUMENT naming `source` and the line that is not CSV.
absl::StatusOr<std::vector<std::vector<std::string>>> ReadCsv(absl::string_view csv,
                                                              absl::string_view source);

// Parses a CSV (RFC 4180, by libcsv) with a header row: one column per gene, an
// `accuracy` column (empty, "nan" or a `status` other than "ok" marks a failed genome),
// optionally `curve` ("0.81;0.84;0.85", as `deepevolve local` writes it) and
// `epochs_run`, and the other result columns `deepevolve local` writes, which are
// ignored. The space is built from the gene columns in order, each gene's values in
// order of first appearance (numbers sorted); when every column is a gene the trainer
// knows, an empty cell is an inactive gene (nb_neurons_3 of a 2-layer genome). `source`
// names the file in errors, which say the line. `metric_columns` are results too (the
// metrics a search's objectives name): numbers in every row that has a result.
absl::StatusOr<FitnessTable> ParseFitnessTable(absl::string_view csv, absl::string_view source,
                                               const std::vector<std::string>& metric_columns = {});

// A search's objectives on a table: each row as the master would rank it, and the
// share of the table's best hypervolume that a set of its rows reaches — objectives
// scaled to [0, 1] between the best and the worst of the table's Pareto front (its
// ideal and nadir points), the reference point 1 % below the nadir.
class TableObjectives {
 public:
  // FAILED_PRECONDITION naming an objective's or constraint's metric the table lacks.
  static absl::StatusOr<TableObjectives> Create(const FitnessTable& table,
                                                const v1::SearchSpec& spec);
  // The row's fitness with its objectives and violation.
  const Fitness& fitness(const genome::Genome& g) const { return fitness_.at(g); }
  // What a pruner is shown of the row's genome `id` after an epoch of validation
  // `accuracy`: its point then, the other metrics at their final values (those of a
  // table are known from the start or change little by epoch).
  EpochScore AtEpoch(const genome::Genome& g, int64_t id, double accuracy) const;
  // Adds a row to the set measured; Share() is the set's hypervolume over the table's.
  void Add(const genome::Genome& g);
  double Share() const;

 private:
  explicit TableObjectives(const v1::SearchSpec& spec) : objectives_(spec) {}

  genome::Objectives objectives_;
  absl::flat_hash_map<genome::Genome, Fitness> fitness_;
  absl::flat_hash_map<genome::Genome, v1::EpochPoint> final_metrics_;  // rows with metrics
  std::vector<double> low_, high_;  // each objective's range over the feasible rows
  std::vector<std::vector<double>> found_;
  double table_volume_ = 0;
  std::vector<double> Scaled(const std::vector<double>& values) const;
};

// Trains nothing: runs the strategy `spec` selects (resolved, on table.space) with
// `workers` workers, looking each genome up in the table, until a genome that trained
// fully reaches `target` or the strategy is done. With one worker genomes train one
// after another; with more, each worker asks for a genome whenever it is free, and each
// genome's epochs take a time drawn uniformly in [0.5, 1.5) (its own, seeded), so
// results arrive out of order while others are in flight. With spec.pruner, each
// genome's curve is shown to the pruner epoch by epoch, as a master would, interleaved
// across workers in time order; a stopped genome costs the epochs up to its stop and
// reports its accuracy there, pruned. FAILED_PRECONDITION for a pruner on a table
// without curves.
struct SimRun {
  int64_t evaluations = 0;  // genomes "trained" (reported) up to and including the first hit
  int64_t epochs = 0;       // the epochs they trained
  int64_t pruned = 0;       // of them, stopped by the pruner
  bool reached = false;
  double best = 0;  // best accuracy seen (of genomes that trained fully)
  // The genomes that trained fully, with their accuracy, in the order they reported:
  // what a search that goes on from this one takes its best from (a warm start).
  std::vector<std::pair<genome::Genome, double>> trained;
  // With several objectives: the share of the table's hypervolume reached after each
  // of kHypervolumeAt evaluations (the last share when the search ended before).
  std::vector<double> hypervolume;
};
inline constexpr int64_t kHypervolumeAt[] = {50, 100, 200};
absl::StatusOr<SimRun> Simulate(const FitnessTable& table, const v1::SearchSpec& spec,
                                double target, uint64_t seed, int workers = 1);

// The expected number of evaluations for brute force in random order to hit one of
// the `hits` genomes at or above the target among `total`: (total + 1) / (hits + 1).
double ExpectedRandomOrderCost(int64_t total, int64_t hits);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_SIM_H_
