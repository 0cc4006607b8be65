#include "worker/trainer/model_file.h"

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "genome/gene_json.h"
#include "genome/network.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "worker/trainer/data.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::trainer {
namespace {

constexpr char kMetaKey[] = "deepevolve.meta";

}  // namespace

absl::Status SaveModel(KerasNet& model, const std::string& path, const genome::NamedGenome& genome,
                       const v1::TaskSpec& task, const genome::TrialResult& result) {
  std::string task_json;
  if (!google::protobuf::util::MessageToJsonString(task, &task_json).ok()) {
    return absl::InternalError("cannot write the task as JSON");
  }
  nlohmann::json meta = {{"format", "deepevolve-model-v1"},
                         {"genome", genome::NamedGenomeToJson(genome)},
                         {"task", nlohmann::json::parse(task_json)},
                         {"accuracy", result.accuracy},
                         {"test_accuracy", result.test_accuracy}};
  torch::serialize::OutputArchive archive;
  for (const auto& p : model->named_parameters()) archive.write(p.key(), p.value().cpu());
  // Batch normalisation's running statistics.
  for (const auto& b : model->named_buffers()) archive.write(b.key(), b.value().cpu());
  archive.write(kMetaKey, c10::IValue(meta.dump()));
  archive.save_to(path);
  return absl::OkStatus();
}

absl::StatusOr<SavedModel> LoadModel(const std::string& path,
                                     const std::vector<std::string>& data_dirs,
                                     double* recomputed_test_accuracy) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    c10::IValue meta_value;
    if (!archive.try_read(kMetaKey, meta_value) || !meta_value.isString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a deepevolve model (no metadata)"));
    }
    nlohmann::json meta = nlohmann::json::parse(meta_value.toStringRef());
    SavedModel saved;
    absl::StatusOr<genome::NamedGenome> named = genome::NamedGenomeFromJson(meta.at("genome"));
    if (!named.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": unreadable genome in metadata: ", named.status().message()));
    }
    saved.genome = *std::move(named);
    if (!google::protobuf::util::JsonStringToMessage(meta.at("task").dump(), &saved.task).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": unreadable task in metadata"));
    }
    saved.accuracy = meta.at("accuracy").get<double>();
    saved.test_accuracy = meta.at("test_accuracy").get<double>();
    if (recomputed_test_accuracy != nullptr) {
      ASSIGN_OR_RETURN(auto data, ProcessDatasetCache(data_dirs).Get(saved.task.dataset()));
      ASSIGN_OR_RETURN(NetConfig config, genome::NetworkFor(saved.genome, saved.task.net(),
                                                            data->shape, data->num_classes));
      KerasNet model(config, at::detail::createCPUGenerator(0));
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters()) {
        torch::Tensor t;
        archive.read(p.key(), t);
        p.value().copy_(t);
      }
      for (auto& b : model->named_buffers()) {
        torch::Tensor t;
        archive.read(b.key(), t);
        b.value().copy_(t);
      }
      *recomputed_test_accuracy =
          Evaluate(model, Head(data->test, saved.task.test_limit()), torch::kCPU).accuracy;
    }
    return saved;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read model: ", e.what()));
  }
}

}  // namespace deepevolve::trainer
