#include "cli/retrain.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/results_files.h"
#include "common/status_macros.h"
#include "genome/gene_json.h"
#include "genome/genome.h"
#include "genome/space.h"
#include "master/ga/spec_file.h"

namespace deepevolve::cli {
namespace {

namespace fs = std::filesystem;

// A field of a genomes.json entry, "" or 0 when it is missing or of another type (a
// hand-edited or foreign file): never an exception.
std::string Text(const nlohmann::json& g, const char* key) {
  return g.is_object() && g.contains(key) && g[key].is_string() ? g[key].get<std::string>() : "";
}
double Number(const nlohmann::json& g, const char* key) {
  return g.is_object() && g.contains(key) && g[key].is_number() ? g[key].get<double>() : 0.0;
}

bool Trained(const nlohmann::json& g) {
  return Text(g, "status") == "ok" && g.contains("accuracy") && g["accuracy"].is_number();
}

// "nb_layers=2 activation=relu ...", as genomes.json lists them.
std::string Describe(const nlohmann::json& g) {
  std::string text;
  if (!g.is_object() || !g.contains("genes") || !g["genes"].is_object()) return text;
  for (const auto& [name, value] : g["genes"].items()) {
    absl::StrAppend(&text, text.empty() ? "" : " ", name, "=", genome::GeneJsonText(value));
  }
  return text;
}

}  // namespace

absl::StatusOr<nlohmann::json> PickGenome(const nlohmann::json& genomes,
                                          const std::string& wanted) {
  const nlohmann::json* pick = nullptr;
  // The same genome may appear twice (a ledger hit beside its training): one match.
  absl::flat_hash_set<std::string> matches;
  for (const nlohmann::json& g : genomes) {
    if (!g.is_object() || !g.contains("hash") || !g["hash"].is_string()) continue;
    if (!wanted.empty()) {
      if (!absl::StartsWith(g["hash"].get<std::string>(), wanted)) continue;
      matches.insert(g["hash"].get<std::string>());
      if (pick == nullptr || (!Trained(*pick) && Trained(g))) pick = &g;
    } else if (Trained(g) && (pick == nullptr ||
                              g["accuracy"].get<double>() > (*pick)["accuracy"].get<double>())) {
      pick = &g;
    }
  }
  if (wanted.empty() && pick == nullptr) {
    return absl::NotFoundError("the search has no trained genome to retrain");
  }
  if (pick == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no genome of the search has a hash starting '", wanted, "'"));
  }
  if (matches.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", wanted, "' starts ", matches.size(),
                                                   " genomes' hashes: give more of it"));
  }
  return *pick;
}

absl::StatusOr<v1::SearchSpec> RetrainSpec(const v1::SearchSpec& search,
                                           const nlohmann::json& chosen, int epochs, int patience,
                                           int train_limit, double min_delta) {
  if (epochs < 1) return absl::InvalidArgumentError("--epochs: at least 1");
  if (patience < 1) return absl::InvalidArgumentError("--patience: at least 1");
  if (train_limit < -1) return absl::InvalidArgumentError("--train-limit: 0 (all) or more");
  if (!(min_delta >= 0) || !std::isfinite(min_delta)) {
    return absl::InvalidArgumentError("--min-delta: a number >= 0");
  }
  if (!search.task().trainer().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the search trained with trainer ", search.task().trainer(),
        ", a program of yours: retrain runs the built-in trainer only; run your program on the "
        "genome's genes (genomes.json) with more epochs"));
  }
  ASSIGN_OR_RETURN(genome::SearchSpace space, genome::SearchSpace::FromProto(search.space()));
  const std::string hash = Text(chosen, "hash");
  if (!chosen.contains("genes") || !chosen["genes"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("genome ", hash, " has no genes"));
  }
  absl::StatusOr<genome::NamedGenome> named = genome::NamedGenomeFromJson(chosen["genes"]);
  if (!named.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("genome ", hash, ": ", named.status().message()));
  }
  absl::StatusOr<genome::Genome> genome = genome::FromNamedGenome(space, *named);
  if (!genome.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "genome ", hash, " is not of the search's space: ", genome.status().message()));
  }
  if (genome::GenomeHash(space, *genome) != hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("genome ", hash, "'s genes hash to ", genome::GenomeHash(space, *genome),
                     ": genomes.json does not belong to search.json"));
  }

  v1::SearchSpec spec = search;
  spec.set_name(absl::StrCat("retrain ", hash.substr(0, 8), search.name().empty() ? "" : " of ",
                             search.name()));
  spec.set_deepevolve_compat(false);
  spec.set_retrain(false);
  spec.mutable_grid()->set_trials(1);  // the oneof: every other strategy is cleared
  // One genome is never pruned; the search's pruner would refuse epochs below its own.
  spec.clear_pruner();
  v1::TaskSpec* task = spec.mutable_task();
  task->set_epochs(epochs);
  task->set_early_stop_patience(patience);
  task->set_early_stop_min_delta(min_delta);
  task->set_restore_best_weights(true);
  if (train_limit >= 0) task->set_train_limit(train_limit);
  // The chosen value first in each gene: the grid's genome 0 is the chosen genome.
  for (int g = 0; g < space.num_genes(); ++g) {
    auto* values = spec.mutable_space()->mutable_genes(g)->mutable_values();
    std::rotate(values->begin(), values->begin() + genome->choice[g],
                values->begin() + genome->choice[g] + 1);
  }
  return spec;
}

int RunRetrain(const RetrainOptions& options, LocalOptions local, std::ostream& out,
               std::ostream& err) {
  auto fail = [&](const absl::Status& s) {
    err << "deepevolve retrain: " << s.message() << "\n";
    return 1;
  };
  const fs::path spec_path = fs::path(options.search_dir) / "search.json";
  if (!fs::exists(spec_path)) {
    return fail(absl::NotFoundError(
        absl::StrCat(spec_path.string(),
                     " does not exist: retrain takes a directory `deepevolve local` wrote")));
  }
  absl::StatusOr<v1::SearchSpec> search = LoadSearchSpecFile(spec_path.string());
  if (!search.ok()) return fail(search.status());
  absl::StatusOr<nlohmann::json> genomes = ReadGenomesJson(options.search_dir);
  if (!genomes.ok()) return fail(genomes.status());
  absl::StatusOr<nlohmann::json> chosen = PickGenome(*genomes, options.genome);
  if (!chosen.ok()) return fail(chosen.status());
  absl::StatusOr<v1::SearchSpec> spec = RetrainSpec(
      *search, *chosen, options.epochs, options.patience, options.train_limit, options.min_delta);
  if (!spec.ok()) return fail(spec.status());

  const std::string hash = (*chosen)["hash"].get<std::string>();
  local.spec = *spec;
  local.out_dir = !options.out_dir.empty()
                      ? options.out_dir
                      : (fs::path(options.search_dir) /
                         absl::StrCat("retrain-", hash.substr(0, 8), "-", options.epochs))
                            .string();
  std::ostringstream top;
  const int rc = RunLocal(local, top, err);
  if (rc != 0) return rc;
  absl::StatusOr<nlohmann::json> after = ReadGenomesJson(local.out_dir);
  if (!after.ok()) return fail(after.status());
  absl::StatusOr<nlohmann::json> retrained = PickGenome(*after, hash);
  if (!retrained.ok() || !Trained(*retrained)) {
    return fail(absl::InternalError(
        absl::StrCat("genome ", hash, " did not train; see ", local.out_dir, "/genomes.json")));
  }
  auto accuracy = [](const nlohmann::json& g, const char* key) {
    return g.contains(key) && g[key].is_number() ? 100 * g[key].get<double>() : 0.0;
  };
  out << absl::StrFormat(
      "retrained %s (%s)\n  search:  %d epochs, %.2f%% validation, %.2f%% test\n  retrain: %d "
      "of %d epochs run, the best kept: %.2f%% validation, %.2f%% test, %.0f s\n"
      "model: %s/best_model.pt; genomes.csv and genomes.json beside it\n",
      hash, Describe(*chosen), static_cast<int>(Number(*chosen, "epochs_run")),
      accuracy(*chosen, "accuracy"), accuracy(*chosen, "test_accuracy"),
      static_cast<int>(Number(*retrained, "epochs_run")), options.epochs,
      accuracy(*retrained, "accuracy"), accuracy(*retrained, "test_accuracy"),
      Number(*retrained, "train_seconds"), local.out_dir);
  return 0;
}

}  // namespace deepevolve::cli
