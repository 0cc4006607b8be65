#include "cli/results_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/csv_record.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "genome/gene_json.h"
#include "genome/trial_rank.h"
#include "master/ga/sim.h"

namespace deepevolve::cli {
namespace {

namespace fs = std::filesystem;

// The columns of a round of population-based training, after the metrics.
constexpr const char* kRoundColumns[] = {"member", "epochs", "schedule"};

// "" for an inactive gene, which has no value.
std::string GeneText(const v1::GeneValue& v) {
  if (v.value_case() == v1::GeneValue::VALUE_NOT_SET) return "";
  return genome::GeneValueToString(genome::GeneValueFromProto(v));
}

// The validation accuracy after each epoch, "0.812300;0.845100".
std::string CurveText(const v1::Trial& t) {
  std::vector<std::string> points;
  for (const v1::EpochPoint& p : t.curve())
    points.push_back(absl::StrFormat("%.6f", p.val_accuracy()));
  return absl::StrJoin(points, ";");
}

const char* TrialStatus(const v1::Trial& t) {
  switch (t.state()) {
    case v1::DONE:
      return t.error().empty() ? "ok" : "failed";
    case v1::CACHED:
      return t.error().empty() ? "ok" : "failed";
    case v1::TRIAL_FAILED:
      return "failed";
    case v1::ABANDONED:
      return "abandoned";
    case v1::PRUNED:
      return "pruned";
    default:
      return "unfinished";
  }
}

}  // namespace

void WriteResults(const genome::SearchSpace& space, const std::vector<v1::Trial>& trials,
                  const std::vector<v1::Trial>& ranked, const std::string& dir) {
  absl::flat_hash_map<int64_t, int> rank;
  for (const v1::Trial& t : ranked) rank.try_emplace(t.genome().id(), rank.size() + 1);
  std::ofstream csv(fs::path(dir) / "genomes.csv");
  std::vector<std::string> header;
  for (const genome::Gene& g : space.genes()) header.push_back(g.name);
  for (const std::string& c : ga::ResultColumns()) header.push_back(c);
  // Then every metric a trial reported, by name (params, latency_ms, ...).
  std::set<std::string> metrics;
  for (const v1::Trial& t : trials) {
    for (const auto& [name, value] : t.metrics()) metrics.insert(name);
  }
  header.insert(header.end(), metrics.begin(), metrics.end());
  // Population-based training: each round's member, its epochs and its schedule.
  const bool rounds =
      std::any_of(trials.begin(), trials.end(), [](const v1::Trial& t) { return t.member() > 0; });
  if (rounds) {
    for (const char* column : kRoundColumns) header.push_back(column);
  }
  csv << CsvRecord(header) << "\n";
  nlohmann::json json = nlohmann::json::array();
  for (const v1::Trial& t : trials) {
    const v1::Genome& g = t.genome();
    const int64_t mom = g.parents_size() > 0 ? g.parents(0) : 0;
    const int64_t dad = g.parents_size() > 1 ? g.parents(1) : 0;
    const bool ok = genome::IsSuccess(t);
    // Cells by column name, written in the header's order.
    absl::flat_hash_map<std::string, std::string> cell;
    nlohmann::json genes = nlohmann::json::object();
    for (int i = 0; i < space.num_genes() && i < g.values_size(); ++i) {
      cell[space.gene(i).name] = GeneText(g.values(i));
      if (g.values(i).value_case() != v1::GeneValue::VALUE_NOT_SET) {
        genes[space.gene(i).name] = genome::GeneValueToJson(g.values(i));
      }
    }
    cell["hash"] = g.hash();
    cell["id"] = absl::StrCat(g.id());
    cell["mom"] = absl::StrCat(mom);
    cell["dad"] = absl::StrCat(dad);
    cell["generation"] = absl::StrCat(g.generation());
    cell["accuracy"] = ok ? absl::StrFormat("%.6f", t.accuracy()) : "";
    cell["test_accuracy"] = ok ? absl::StrFormat("%.6f", t.test_accuracy()) : "";
    cell["train_seconds"] = absl::StrFormat("%.3f", t.train_seconds());
    cell["epochs_run"] = absl::StrCat(t.epochs_run());
    cell["status"] = TrialStatus(t);
    cell["ledger_hit"] = t.state() == v1::CACHED ? "1" : "0";
    cell["seed"] = absl::StrCat(t.seed());
    cell["worker"] = t.worker_id();
    cell["error"] = t.error();
    cell["curve"] = CurveText(t);
    if (t.member() > 0) {
      cell["member"] = absl::StrCat(t.member());
      cell["epochs"] = absl::StrCat(t.start_epoch() + 1, "-",
                                    t.stop_epoch() > 0 ? t.stop_epoch() : t.epochs_run());
      cell["schedule"] = t.schedule();
    }
    nlohmann::json metric_values = nlohmann::json::object();
    for (const auto& [name, value] : t.metrics()) {
      cell[name] = absl::StrFormat("%.9g", value);
      metric_values[name] = value;
    }
    std::vector<std::string> cells;
    for (const std::string& column : header) cells.push_back(cell[column]);
    csv << CsvRecord(cells) << "\n";
    nlohmann::json j = {{"genes", genes},
                        {"hash", g.hash()},
                        {"id", g.id()},
                        {"parents", {mom, dad}},
                        {"generation", g.generation()},
                        {"status", TrialStatus(t)},
                        {"train_seconds", t.train_seconds()},
                        {"epochs_run", t.epochs_run()},
                        {"ledger_hit", t.state() == v1::CACHED},
                        {"seed", t.seed()},
                        {"worker", t.worker_id()}};
    nlohmann::json curve = nlohmann::json::array();
    for (const v1::EpochPoint& p : t.curve()) curve.push_back(p.val_accuracy());
    j["curve"] = std::move(curve);
    if (!metric_values.empty()) j["metrics"] = std::move(metric_values);
    if (t.state() == v1::PRUNED) j["pruned_at_epoch"] = t.pruned_at_epoch();
    if (t.member() > 0) {
      j["member"] = t.member();
      j["start_epoch"] = t.start_epoch();
      j["stop_epoch"] = t.stop_epoch();
      j["schedule"] = t.schedule();
    }
    if (auto r = rank.find(g.id()); r != rank.end()) j["rank"] = r->second;
    if (ok) {
      j["accuracy"] = t.accuracy();
      j["test_accuracy"] = t.test_accuracy();
    } else if (!t.error().empty()) {
      j["error"] = t.error();
    }
    json.push_back(std::move(j));
  }
  std::ofstream(fs::path(dir) / "genomes.json") << json.dump(2) << "\n";
}

namespace {

// A cell of gene `gene`'s column as that gene's value: the space's value written so, else
// the number or name it reads as (which the master then refuses, naming it).
v1::GeneValue CellValue(const genome::SearchSpace& space, int gene, const std::string& cell) {
  for (int v = 0; v < space.num_values(gene); ++v) {
    if (genome::GeneValueToString(space.value(gene, v)) == cell) {
      return genome::GeneValueToProto(space.value(gene, v));
    }
  }
  v1::GeneValue out;
  int64_t i = 0;
  double d = 0;
  if (absl::SimpleAtoi(cell, &i)) {
    out.set_int_value(i);
  } else if (absl::SimpleAtod(cell, &d)) {
    out.set_float_value(d);
  } else {
    out.set_string_value(cell);
  }
  return out;
}

absl::StatusOr<FinishedTrials> FinishedFromJson(const std::string& path, const std::string& text) {
  nlohmann::json genomes = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!genomes.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a genomes.json (expected an array of genomes)"));
  }
  FinishedTrials out;
  for (size_t i = 0; i < genomes.size(); ++i) {
    const nlohmann::json& g = genomes[i];
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": genome ", i + 1, ": ", what));
    };
    if (!g.is_object()) return bad("not an object");
    if (g.value("status", "") != "ok" || !g.contains("accuracy")) {
      ++out.skipped;
      continue;
    }
    absl::StatusOr<genome::NamedGenome> named =
        genome::NamedGenomeFromJson(g.value("genes", nlohmann::json()));
    if (!named.ok()) return bad(named.status().message());
    v1::ImportedTrial t;
    for (const auto& [name, value] : *named) {
      (*t.mutable_genome()->mutable_genes())[name] = genome::GeneValueToProto(value);
    }
    auto number = [&](const char* field) {
      const nlohmann::json& v = g.value(field, nlohmann::json());
      return v.is_number() ? v.get<double>() : 0.0;
    };
    t.set_accuracy(number("accuracy"));
    t.set_test_accuracy(number("test_accuracy"));
    t.set_train_seconds(number("train_seconds"));
    t.set_epochs_run(static_cast<int>(number("epochs_run")));
    if (const nlohmann::json& m = g.value("metrics", nlohmann::json()); m.is_object()) {
      for (const auto& [name, value] : m.items()) {
        if (value.is_number()) (*t.mutable_metrics())[name] = value.get<double>();
      }
    }
    out.trials.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<FinishedTrials> FinishedFromCsv(const std::string& path, const std::string& text,
                                               const genome::SearchSpace& space) {
  ASSIGN_OR_RETURN(const std::vector<std::vector<std::string>> rows, ga::ReadCsv(text, path));
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no header row"));
  const std::vector<std::string>& header = rows[0];
  absl::flat_hash_map<std::string, int> column;
  for (size_t c = 0; c < header.size(); ++c) column.try_emplace(header[c], c);
  std::vector<int> gene_column(space.num_genes(), -1);
  for (int g = 0; g < space.num_genes(); ++g) {
    if (auto it = column.find(space.gene(g).name); it != column.end()) gene_column[g] = it->second;
  }
  if (!column.contains("accuracy")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no accuracy column"));
  }
  FinishedTrials out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const std::vector<std::string>& row = rows[r];
    auto cell = [&](const std::string& name) -> std::string {
      auto it = column.find(name);
      return it != column.end() && it->second < static_cast<int>(row.size()) ? row[it->second] : "";
    };
    double accuracy = 0;
    if ((column.contains("status") && cell("status") != "ok") ||
        !absl::SimpleAtod(cell("accuracy"), &accuracy)) {
      ++out.skipped;
      continue;
    }
    v1::ImportedTrial t;
    for (int g = 0; g < space.num_genes(); ++g) {
      const int c = gene_column[g];
      if (c < 0 || c >= static_cast<int>(row.size()) || row[c].empty()) continue;  // inactive
      (*t.mutable_genome()->mutable_genes())[space.gene(g).name] = CellValue(space, g, row[c]);
    }
    t.set_accuracy(accuracy);
    double number = 0;
    if (absl::SimpleAtod(cell("test_accuracy"), &number)) t.set_test_accuracy(number);
    if (absl::SimpleAtod(cell("train_seconds"), &number)) t.set_train_seconds(number);
    if (absl::SimpleAtod(cell("epochs_run"), &number)) t.set_epochs_run(static_cast<int>(number));
    for (size_t c = 0; c < header.size() && c < row.size(); ++c) {
      const bool gene = std::find(gene_column.begin(), gene_column.end(), static_cast<int>(c)) !=
                        gene_column.end();
      const std::vector<std::string>& results = ga::ResultColumns();
      const bool result = std::find(results.begin(), results.end(), header[c]) != results.end() ||
                          std::find(std::begin(kRoundColumns), std::end(kRoundColumns),
                                    header[c]) != std::end(kRoundColumns);
      // Every other numeric column is a metric (the built-in trainer's included).
      if (gene || result || !absl::SimpleAtod(row[c], &number)) continue;
      (*t.mutable_metrics())[header[c]] = number;
    }
    out.trials.push_back(std::move(t));
  }
  return out;
}

}  // namespace

absl::StatusOr<FinishedTrials> ReadFinishedTrials(const std::string& path,
                                                  const genome::SearchSpace& space) {
  ASSIGN_OR_RETURN(const std::optional<std::string> text, ReadWholeFile(path));
  if (!text.has_value()) return absl::NotFoundError(absl::StrCat(path, " cannot be read"));
  if (absl::EndsWith(path, ".csv")) return FinishedFromCsv(path, *text, space);
  return FinishedFromJson(path, *text);
}

absl::StatusOr<nlohmann::json> ReadGenomesJson(const std::string& dir) {
  const fs::path path = fs::path(dir) / "genomes.json";
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        path.string(), " cannot be read: retrain takes a directory `deepevolve local` wrote"));
  }
  nlohmann::json genomes = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!genomes.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": not a genomes.json (expected an array of genomes)"));
  }
  return genomes;
}

}  // namespace deepevolve::cli
