#include "master/ga/spec.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "genome/genes.h"
#include "genome/metrics.h"
#include "genome/network.h"
#include "genome/space.h"
#include "google/protobuf/descriptor.h"
#include "master/ga/pbt.h"
#include "master/ga/presets.h"
#include "master/ga/spec_checks.h"
#include "master/ga/strategies.h"

namespace deepevolve::ga {
namespace {

// A trainer program's task: its name, the dataset passed as is, and the epochs; every
// other field is the built-in trainer's and refused, so that nothing set is ignored.
absl::Status ResolveProgramTask(v1::TaskSpec* task) {
  if (absl::Status name = genome::CheckTrainerName(task->trainer()); !name.ok()) {
    return Invalid("task.trainer", name.message());
  }
  std::vector<const google::protobuf::FieldDescriptor*> set;
  task->GetReflection()->ListFields(*task, &set);
  for (const google::protobuf::FieldDescriptor* field : set) {
    if (field->name() == "trainer" || field->name() == "dataset" || field->name() == "epochs") {
      continue;
    }
    return Invalid(
        absl::StrCat("task.", field->name()),
        absl::StrCat("the built-in trainer's; a trainer program (task.trainer ", task->trainer(),
                     ") gets the genes, the seed, epochs and dataset only: make it a "
                     "gene, or part of the dataset text"));
  }
  if (task->dataset().size() > kMaxDatasetLength) {
    return Invalid("task.dataset", absl::StrCat("longer than ", kMaxDatasetLength, " characters"));
  }
  if (!std::all_of(task->dataset().begin(), task->dataset().end(),
                   [](char c) { return c >= 0x20 && c < 0x7f; })) {
    return Invalid("task.dataset", "printable ASCII only (it is passed to the trainer program)");
  }
  if (task->epochs() == 0) task->set_epochs(4);
  return CheckRange("task.epochs", task->epochs(), 1, kMaxEpochs);
}

absl::Status ResolveTask(const v1::SearchSpec& spec, const Preset* preset, v1::TaskSpec* task) {
  if (!task->trainer().empty()) {
    if (preset != nullptr) {
      return Invalid("preset",
                     "a preset is a space of the built-in trainer's genes; a trainer "
                     "program's search names its own genes");
    }
    return ResolveProgramTask(task);
  }
  if (preset != nullptr) {
    if (task->dataset().empty()) task->set_dataset(preset->task.dataset());
    if (task->net() == v1::NET_KIND_UNSPECIFIED) task->set_net(preset->task.net());
    if (task->batch_size() == 0) task->set_batch_size(preset->task.batch_size());
  }
  if (task->dataset().empty()) return Invalid("task.dataset", "no dataset and no preset");
  if (task->dataset().size() > kMaxDatasetLength) {
    return Invalid("task.dataset", absl::StrCat("longer than ", kMaxDatasetLength, " characters"));
  }
  if (absl::StartsWith(task->dataset(), "csv:")) {
    if (absl::Status path = CheckCsvPath(task->dataset().substr(4)); !path.ok()) {
      return Invalid("task.dataset", path.message());
    }
  }
  if (!IsKnownDataset(task->dataset())) {
    return Invalid("task.dataset",
                   absl::StrCat("unknown dataset '", task->dataset().substr(0, 256),
                                "' (known: mnist, fashion_mnist, cifar10, csv:<path>)"));
  }
  if (task->net() == v1::NET_KIND_UNSPECIFIED) {
    return Invalid("task.net", "no net kind (MLP or CNN) and no preset");
  }
  if (!v1::NetKind_IsValid(task->net())) return Invalid("task.net", "unknown net kind");
  if (task->epochs() == 0) task->set_epochs(4);
  RETURN_IF_ERROR(CheckRange("task.epochs", task->epochs(), 1, kMaxEpochs));
  if (task->batch_size() == 0) task->set_batch_size(task->net() == v1::CNN ? 128 : 64);
  RETURN_IF_ERROR(CheckRange("task.batch_size", task->batch_size(), 1, kMaxBatchSize));
  if (task->validation() == v1::VALIDATION_MODE_UNSPECIFIED) {
    task->set_validation(spec.deepevolve_compat() ? v1::TEST_SET : v1::HOLDOUT);
  }
  if (!v1::ValidationMode_IsValid(task->validation())) {
    return Invalid("task.validation", "unknown validation mode");
  }
  if (task->validation() == v1::HOLDOUT) {
    if (!task->has_validation_fraction()) task->set_validation_fraction(0.1);
    RETURN_IF_ERROR(CheckFraction("task.validation_fraction", task->validation_fraction(),
                                  /*allow_zero=*/false, 0.9));
  } else {
    task->clear_validation_fraction();  // meaningless without a holdout
  }
  RETURN_IF_ERROR(CheckRange("task.train_limit", task->train_limit(), 0, 1 << 30));
  RETURN_IF_ERROR(CheckRange("task.test_limit", task->test_limit(), 0, 1 << 30));
  if (!task->has_early_stop_min_delta()) task->set_early_stop_min_delta(0.1);
  if (!std::isfinite(task->early_stop_min_delta()) || task->early_stop_min_delta() < 0) {
    return Invalid("task.early_stop_min_delta",
                   absl::StrCat("must be a number >= 0, got ", task->early_stop_min_delta()));
  }
  // Population-based training replaces its worst members instead: none stops early
  // (a patience of every epoch never runs out) unless the spec says otherwise.
  if (!task->has_early_stop_patience()) {
    task->set_early_stop_patience(spec.has_pbt() ? task->epochs() : 2);
  }
  return CheckRange("task.early_stop_patience", task->early_stop_patience(), 0, kMaxEpochs);
}

// Fills the checkpoints' default (after every epoch) and checks their bounds.
absl::Status ResolveCheckpoint(v1::SearchSpec* spec) {
  v1::CheckpointSpec* c = spec->mutable_checkpoint();
  RETURN_IF_ERROR(CheckRange("checkpoint.every_epochs", c->every_epochs(), 0, kMaxEpochs));
  if (!std::isfinite(c->every_seconds()) || c->every_seconds() < 0 ||
      c->every_seconds() > 30 * 24 * 3600) {
    return Invalid(
        "checkpoint.every_seconds",
        absl::StrCat("must be a number of seconds from 0 to 2592000, got ", c->every_seconds()));
  }
  if (c->disabled()) {
    spec->clear_checkpoint();
    spec->mutable_checkpoint()->set_disabled(true);
  } else if (c->every_epochs() == 0 && c->every_seconds() == 0) {
    c->set_every_epochs(1);
  }
  return absl::OkStatus();
}

// Fills the pruner's defaults and checks that it can stop a genome at all.
absl::Status ResolvePruner(v1::SearchSpec* spec) {
  const int epochs = spec->task().epochs();
  v1::PrunerSpec* pruner = spec->mutable_pruner();
  if (pruner->kind_case() != v1::PrunerSpec::KIND_NOT_SET && spec->deepevolve_compat()) {
    return Invalid("pruner",
                   "deepevolve_compat trains every genome all its epochs, as DeepEvolve did: "
                   "no pruner");
  }
  switch (pruner->kind_case()) {
    case v1::PrunerSpec::kMedian: {
      v1::MedianPruner* m = pruner->mutable_median();
      if (!m->has_warmup_epochs()) m->set_warmup_epochs(0);
      if (!m->has_min_trials()) m->set_min_trials(5);
      RETURN_IF_ERROR(CheckRange("pruner.median.min_trials", m->min_trials(), 0, kMaxTrials));
      RETURN_IF_ERROR(CheckRange("pruner.median.warmup_epochs", m->warmup_epochs(), 0, kMaxEpochs));
      if (m->warmup_epochs() >= epochs - 1) {
        return Invalid("pruner.median.warmup_epochs",
                       absl::StrCat(m->warmup_epochs(), " leaves no epoch to stop a genome at (",
                                    "task.epochs is ", epochs,
                                    "; a genome is never stopped "
                                    "after its last)"));
      }
      return absl::OkStatus();
    }
    case v1::PrunerSpec::kAsha: {
      v1::AshaPruner* a = pruner->mutable_asha();
      if (!a->has_min_epochs()) a->set_min_epochs(1);
      if (!a->has_reduction_factor()) a->set_reduction_factor(3);
      RETURN_IF_ERROR(CheckRange("pruner.asha.min_epochs", a->min_epochs(), 1, kMaxEpochs));
      RETURN_IF_ERROR(CheckRange("pruner.asha.reduction_factor", a->reduction_factor(), 2, 1000));
      if (a->min_epochs() >= epochs) {
        return Invalid("pruner.asha.min_epochs",
                       absl::StrCat(a->min_epochs(), " is not below task.epochs (", epochs,
                                    "): no rung to stop a genome at"));
      }
      return absl::OkStatus();
    }
    case v1::PrunerSpec::KIND_NOT_SET:
      spec->clear_pruner();
      return absl::OkStatus();
  }
  return Invalid("pruner", "unknown pruner");
}

// A metric an objective or constraint names at `field`: a metric name, and for the
// built-in trainer one it reports.
absl::Status CheckMetricName(const std::string& field, const std::string& metric, bool any_metric) {
  if (metric.empty()) return Invalid(field, "no metric named");
  if (!genome::IsMetricName(metric)) {
    return Invalid(field, absl::StrCat("'", absl::CEscape(metric.substr(0, 64)),
                                       "' is no metric name ([a-z][a-z0-9_]*)"));
  }
  if (!any_metric && !genome::IsBuiltinMetric(metric)) {
    std::vector<std::string> known(std::begin(genome::kFieldMetrics),
                                   std::end(genome::kFieldMetrics));
    known.insert(known.end(), std::begin(genome::kBuiltinMetrics),
                 std::end(genome::kBuiltinMetrics));
    return Invalid(field, absl::StrCat("the built-in trainer reports no metric '", metric,
                                       "' (known: ", absl::StrJoin(known, ", "), ")"));
  }
  return absl::OkStatus();
}

// Objectives and constraints: names checked against the trainer, goals written out,
// bounds ordered. Absent, the search maximizes accuracy as it always has.
absl::Status ResolveObjectives(v1::SearchSpec* spec, bool any_metric) {
  if (spec->objectives_size() > kMaxObjectives) {
    return Invalid("objectives",
                   absl::StrCat("at most ", kMaxObjectives, ", got ", spec->objectives_size()));
  }
  for (int i = 0; i < spec->objectives_size(); ++i) {
    v1::Objective* o = spec->mutable_objectives(i);
    const std::string field = absl::StrCat("objectives[", i, "]");
    RETURN_IF_ERROR(CheckMetricName(field + ".metric", o->metric(), any_metric));
    for (int j = 0; j < i; ++j) {
      if (spec->objectives(j).metric() == o->metric()) {
        return Invalid(field + ".metric",
                       absl::StrCat("'", o->metric(), "' is objectives[", j, "] already"));
      }
    }
    const std::string goal = absl::AsciiStrToLower(o->goal());
    if (goal == "maximize" || goal == "max") {
      o->set_goal("maximize");
    } else if (goal == "minimize" || goal == "min") {
      o->set_goal("minimize");
    } else {
      return Invalid(field + ".goal", absl::StrCat("must be maximize or minimize, got '",
                                                   absl::CEscape(o->goal().substr(0, 64)), "'"));
    }
  }
  if (spec->constraints_size() > kMaxConstraints) {
    return Invalid("constraints",
                   absl::StrCat("at most ", kMaxConstraints, ", got ", spec->constraints_size()));
  }
  for (int i = 0; i < spec->constraints_size(); ++i) {
    const v1::Constraint& c = spec->constraints(i);
    const std::string field = absl::StrCat("constraints[", i, "]");
    RETURN_IF_ERROR(CheckMetricName(field + ".metric", c.metric(), any_metric));
    if (!c.has_min() && !c.has_max()) return Invalid(field, "neither min nor max");
    if ((c.has_min() && !std::isfinite(c.min())) || (c.has_max() && !std::isfinite(c.max()))) {
      return Invalid(field, "min and max must be finite numbers");
    }
    if (c.has_min() && c.has_max() && c.min() > c.max()) {
      return Invalid(field, absl::StrCat("min ", c.min(), " is above max ", c.max()));
    }
  }
  if (!IsMultiObjective(*spec)) return absl::OkStatus();
  if (spec->deepevolve_compat()) {
    return Invalid("objectives", "DeepEvolve's compatibility mode maximizes accuracy only");
  }
  // The median pruner compares a trial's best accuracy so far with the median of the
  // completed trials' at the same epoch: a scalar statistic with no Pareto counterpart
  // that keeps its meaning. ASHA ranks at a rung, which non-dominated sorting does.
  if (spec->pruner().has_median()) {
    return Invalid("pruner",
                   "the median pruner compares accuracy with the completed trials' median, "
                   "which has no meaning across several objectives; use asha, which ranks "
                   "each rung by Pareto front");
  }
  return absl::OkStatus();
}

// Population-based training goes on from checkpoints, ranks by accuracy and decides
// for itself which members train on.
absl::Status CheckPbt(const v1::SearchSpec& spec, const genome::SearchSpace& space) {
  if (!spec.has_pbt()) return absl::OkStatus();
  if (spec.checkpoint().disabled()) {
    return Invalid("checkpoint", "pbt goes on from checkpoints: they cannot be disabled");
  }
  if (!spec.task().trainer().empty()) {
    return Invalid("strategy",
                   "pbt needs the built-in trainer's checkpoints (a trainer "
                   "program's are not passed between its rounds)");
  }
  if (spec.pruner().kind_case() != v1::PrunerSpec::KIND_NOT_SET) {
    return Invalid("pruner",
                   "pbt stops no member: its bottom members copy the top ones after "
                   "every round; leave the pruner out");
  }
  if (IsMultiObjective(spec)) {
    return Invalid("objectives", "pbt ranks its members by accuracy alone");
  }
  for (absl::string_view name : PbtTrainingGenes()) {
    if (std::optional<int> g = space.FindGene(name); g && space.num_values(*g) > 1) {
      return absl::OkStatus();
    }
  }
  return Invalid("space", absl::StrCat("pbt changes the training genes (",
                                       absl::StrJoin(PbtTrainingGenes(), ", "),
                                       ") of the members it copies: the space has none"));
}

absl::Status ResolveStrategy(v1::SearchSpec* spec, uint64_t space_size) {
  if (spec->strategy_case() == v1::SearchSpec::STRATEGY_NOT_SET) spec->mutable_generational();
  return StrategyOf(*spec).resolve(spec, space_size);
}

}  // namespace

absl::Status CheckCsvPath(absl::string_view path) {
  const bool plain = !path.empty() && std::all_of(path.begin(), path.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/';
  });
  bool escapes = path.empty() || path[0] == '/';
  for (absl::string_view part : absl::StrSplit(path, '/')) escapes |= part == "..";
  if (!plain || escapes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "csv:", path.substr(0, 256),
        ": a CSV dataset is a file inside the workers' data directories, named by a relative "
        "path of letters, digits and . _ - / without '..' (e.g. csv:bank/train.csv)"));
  }
  return absl::OkStatus();
}

bool IsKnownDataset(const std::string& dataset) {
  return dataset == "mnist" || dataset == "fashion_mnist" || dataset == "cifar10" ||
         (absl::StartsWith(dataset, "csv:") && dataset.size() > 4);
}

absl::Status CheckGenomeMemory(const genome::SearchSpace& space, const v1::TaskSpec& task) {
  const auto data = genome::KnownDatasetShape(task.dataset());
  if (!data.has_value()) return absl::OkStatus();
  // Memory grows with every width, the batch and batch normalisation; the layers and
  // the kernel also decide whether a CNN collapses, so each of their pairs is tried
  // with the rest at its largest.
  genome::NamedGenome largest_rest;
  std::vector<int> tried;
  for (int g = 0; g < space.num_genes(); ++g) {
    const std::string& name = space.gene(g).name;
    if (name == genome::kGeneNbLayers || name == genome::kGeneKernelSize) {
      tried.push_back(g);
      continue;
    }
    const genome::GeneInfo* info = genome::FindTrainerGene(name);
    if (info == nullptr) return absl::OkStatus();  // not a trainer space
    genome::GeneValue pick = space.value(g, 0);
    for (int v = 0; v < space.num_values(g); ++v) {
      const genome::GeneValue& value = space.value(g, v);
      if (info->type == genome::GeneType::kInteger &&
          std::get<int64_t>(value) > std::get<int64_t>(pick)) {
        pick = value;
      }
      if (name == genome::kGeneBatchNorm && value == genome::GeneValue(std::string("true"))) {
        pick = value;
      }
    }
    largest_rest.emplace_back(name, pick);
  }
  std::vector<int> choice(tried.size(), 0);
  int64_t worst = 0;
  std::optional<genome::Network> largest;
  int64_t largest_batch = 0;
  while (true) {
    genome::NamedGenome candidate = largest_rest;
    for (size_t t = 0; t < tried.size(); ++t) {
      candidate.emplace_back(space.gene(tried[t]).name, space.value(tried[t], choice[t]));
    }
    absl::StatusOr<genome::Network> net =
        genome::NetworkFor(candidate, task.net(), data->first, data->second);
    // A CNN that collapses is refused by the worker as a failed genome, untrained.
    if (net.ok() && (net->kind != v1::CNN || genome::ConvOutput(*net).ok())) {
      const int64_t batch = net->batch_size.value_or(task.batch_size());
      const int64_t bytes = genome::TrainingBytes(*net, batch);
      if (bytes > worst) {
        worst = bytes;
        largest = *net;
        largest_batch = batch;
      }
    }
    size_t t = 0;
    for (; t < tried.size(); ++t) {
      if (++choice[t] < space.num_values(tried[t])) break;
      choice[t] = 0;
    }
    if (t == tried.size()) break;
  }
  if (worst <= kMaxGenomeBytes) return absl::OkStatus();
  const int64_t widest = *std::max_element(largest->widths.begin(), largest->widths.end());
  return Invalid(
      "space",
      absl::StrFormat("its largest genome, %d layers up to %d wide, needs about "
                      "%.1f GiB to train on %s in batches of %d (%d parameters); the "
                      "limit is %d GiB a genome",
                      largest->nb_layers(), widest, worst / double(1 << 30), task.dataset(),
                      largest_batch, genome::ParameterCount(*largest), kMaxGenomeBytes >> 30));
}

namespace {

// A warm start's bounds and the strategies it applies to; its genomes, when given, must
// fit the space (some of them).
absl::Status ResolveWarmStart(v1::SearchSpec* spec, const genome::SearchSpace& space) {
  if (!spec->has_warm_start()) return absl::OkStatus();
  constexpr int kMaxWarmStart = 1000;
  v1::WarmStart& w = *spec->mutable_warm_start();
  if (spec->has_grid()) {
    return Invalid("warm_start",
                   "grid enumerates the whole space in its own order: nothing to "
                   "begin with (use random, steady_state, guided, generational or pbt)");
  }
  if (spec->deepevolve_compat()) return Invalid("warm_start", "not with deepevolve_compat");
  if (w.search_id() < 0) return Invalid("warm_start.search_id", "must be a search's id");
  if (w.search_id() > 0 && w.best() == 0) w.set_best(8);
  if (w.best() < 0 || w.best() > kMaxWarmStart) {
    return Invalid("warm_start.best", absl::StrCat("1 to ", kMaxWarmStart, ", got ", w.best()));
  }
  if (w.genomes_size() > kMaxWarmStart) {
    return Invalid("warm_start.genomes",
                   absl::StrCat("at most ", kMaxWarmStart, ", got ", w.genomes_size()));
  }
  if (w.search_id() == 0 && w.genomes_size() == 0) {
    return Invalid("warm_start", "give the search to begin from (search_id) or its genomes");
  }
  return WarmStartGenomes(space, *spec).status();
}

}  // namespace

absl::StatusOr<v1::SearchSpec> ResolveSearchSpec(const v1::SearchSpec& input,
                                                 genome::GeneNames names) {
  if (input.ByteSizeLong() > kMaxSpecBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the spec is ", input.ByteSizeLong() >> 10,
                                                   " KiB, over the ", kMaxSpecBytes >> 10,
                                                   " KiB a spec may be"));
  }
  v1::SearchSpec spec = input;
  // Fields this master does not know (a newer client's, or padding) are not stored,
  // copied into events and assignments, or shown back.
  spec.DiscardUnknownFields();
  if (spec.name().size() > static_cast<size_t>(kMaxSpecNameLength)) {
    return Invalid("name", absl::StrCat("at most ", kMaxSpecNameLength, " characters, got ",
                                        spec.name().size()));
  }
  const Preset* preset = nullptr;
  if (!spec.preset().empty()) {
    preset = FindPreset(spec.preset());
    if (preset == nullptr) {
      std::vector<std::string> names;
      for (const Preset& p : Presets()) names.push_back(p.name);
      return Invalid("preset", absl::StrCat("unknown preset '", spec.preset().substr(0, 256),
                                            "' (known: ", absl::StrJoin(names, ", "), ")"));
    }
    if (spec.space().genes_size() == 0) *spec.mutable_space() = preset->space;
  }
  if (spec.space().genes_size() == 0) return Invalid("space", "no genes and no preset");
  const bool program = !spec.task().trainer().empty();
  // A trainer program's genes are its own: checked for structure only.
  if (program) names = genome::GeneNames::kAny;
  ASSIGN_OR_RETURN(genome::SearchSpace space, genome::SearchSpace::FromProto(spec.space(), names));
  RETURN_IF_ERROR(ResolveTask(spec, preset, spec.mutable_task()));
  if (names == genome::GeneNames::kTrainable) {
    RETURN_IF_ERROR(genome::CheckGenesForNet(space, spec.task().net()));
  }
  if (!program) RETURN_IF_ERROR(CheckGenomeMemory(space, spec.task()));
  RETURN_IF_ERROR(ResolveStrategy(&spec, space.size()));
  RETURN_IF_ERROR(ResolvePruner(&spec));
  RETURN_IF_ERROR(ResolveCheckpoint(&spec));
  // Metrics are the built-in trainer's, or any a program (or a fitness table) has.
  RETURN_IF_ERROR(ResolveObjectives(&spec, names == genome::GeneNames::kAny));
  RETURN_IF_ERROR(CheckPbt(spec, space));
  RETURN_IF_ERROR(ResolveWarmStart(&spec, space));
  return spec;
}

bool IsMultiObjective(const v1::SearchSpec& spec) {
  if (spec.constraints_size() > 0 || spec.objectives_size() > 1) return true;
  return spec.objectives_size() == 1 &&
         !(spec.objectives(0).metric() == "accuracy" && spec.objectives(0).goal() == "maximize");
}

genome::GeneNames GeneNamesFor(const v1::TaskSpec& task) {
  return task.trainer().empty() ? genome::GeneNames::kTrainable : genome::GeneNames::kAny;
}

const std::vector<std::string>& StrategyNames() {
  static const auto* names = [] {
    auto* out = new std::vector<std::string>;
    for (const StrategyRow& row : Strategies()) out->push_back(row.name);
    return out;
  }();
  return *names;
}

std::string StrategyName(const v1::SearchSpec& spec) { return StrategyOf(spec).name; }

absl::Status SetStrategy(const std::string& name, v1::SearchSpec* spec) {
  const StrategyRow* row = FindStrategy(name);
  if (row == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown strategy '", name, "' (known: ", StrategyList(", "), ")"));
  }
  SelectStrategy(*row, spec);
  return absl::OkStatus();
}

}  // namespace deepevolve::ga
