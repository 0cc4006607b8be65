#include "master/ga/sim.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

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
  return false;
}

absl::StatusOr<FitnessTable> ParseFitnessTable(absl::string_view csv, absl::string_view source) {
  std::vector<absl::string_view> lines = absl::StrSplit(csv, '\n', absl::SkipWhitespace());
  if (lines.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty table"));

  auto split = [](absl::string_view line) {
    std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
    for (auto& c : cells) c = absl::StripAsciiWhitespace(c);
    return cells;
  };
  const std::vector<absl::string_view> header = split(lines[0]);
  int accuracy_col = -1, status_col = -1;
  std::vector<int> gene_cols;
  for (int c = 0; c < static_cast<int>(header.size()); ++c) {
    if (header[c] == "accuracy") accuracy_col = c;
    if (header[c] == "status") status_col = c;
    if (!IsResultColumn(header[c])) gene_cols.push_back(c);
  }
  if (accuracy_col < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line 1: no 'accuracy' column in the header"));
  }
  if (gene_cols.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line 1: no gene columns"));
  }

  std::vector<genome::Gene> genes(gene_cols.size());
  for (size_t g = 0; g < gene_cols.size(); ++g) genes[g].name = std::string(header[gene_cols[g]]);
  struct Row {
    std::vector<genome::GeneValue> values;
    Fitness fitness;
  };
  std::vector<Row> rows;
  for (size_t l = 1; l < lines.size(); ++l) {
    const std::vector<absl::string_view> cells = split(lines[l]);
    const std::string where = absl::StrCat(source, ": line ", l + 1);
    if (cells.size() != header.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", cells.size(), " cells where the header has ", header.size()));
    }
    Row row;
    for (size_t g = 0; g < gene_cols.size(); ++g) {
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
    } else {
      row.fitness = Fitness{false, 0};
    }
    rows.push_back(std::move(row));
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
  auto space = genome::SearchSpace::Create(genes, genome::GeneNames::kAny);
  if (!space.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": the gene columns do not make a search space: ", space.status().message()));
  }
  FitnessTable table{*std::move(space), {}, 0};
  for (size_t r = 0; r < rows.size(); ++r) {
    genome::NamedGenome a;
    for (size_t g = 0; g < genes.size(); ++g) a.emplace_back(genes[g].name, rows[r].values[g]);
    ASSIGN_OR_RETURN(genome::Genome genome, genome::FromNamedGenome(table.space, a));
    if (!table.fitness.emplace(genome, rows[r].fitness).second) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", r + 2, ": genome ",
                                                     genome::DescribeGenome(table.space, genome),
                                                     " appears twice"));
    }
    if (rows[r].fitness.ok) table.best = std::max(table.best, rows[r].fitness.accuracy);
  }
  return table;
}

absl::StatusOr<SimRun> Simulate(const FitnessTable& table, const v1::SearchSpec& spec,
                                double target, uint64_t seed) {
  ASSIGN_OR_RETURN(std::unique_ptr<Strategy> strategy, MakeStrategy(table.space, spec));
  std::mt19937_64 rng(seed);
  SimRun run;
  while (!strategy->Done()) {
    ASSIGN_OR_RETURN(std::vector<Candidate> next, strategy->Next(1, rng));
    if (next.empty()) {
      if (strategy->Done()) break;  // a generation with nothing left to train
      return absl::InternalError("strategy is waiting with no genome in flight");
    }
    const Candidate& c = next.front();
    auto it = table.fitness.find(c.genome);
    if (it == table.fitness.end()) {
      return absl::NotFoundError(absl::StrCat("the table has no row for genome ",
                                              genome::DescribeGenome(table.space, c.genome)));
    }
    ++run.evaluations;
    RETURN_IF_ERROR(strategy->Report(c.id, it->second));
    if (it->second.ok) {
      run.best = std::max(run.best, it->second.accuracy);
      if (it->second.accuracy >= target) {
        run.reached = true;
        break;
      }
    }
  }
  return run;
}

double ExpectedRandomOrderCost(int64_t total, int64_t hits) {
  return static_cast<double>(total + 1) / static_cast<double>(hits + 1);
}

}  // namespace deepevolve::ga
