#include "genome/genes.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace deepevolve::genome {
namespace {

GeneInfo Integer(absl::string_view name, double min, double max, std::string absent,
                 std::string meaning) {
  GeneInfo g;
  g.name = std::string(name);
  g.type = GeneType::kInteger;
  g.min = min;
  g.max = max;
  g.absent = std::move(absent);
  g.meaning = std::move(meaning);
  return g;
}

GeneInfo Number(absl::string_view name, double min, bool min_excluded, double max,
                std::string absent, std::string meaning) {
  GeneInfo g = Integer(name, min, max, std::move(absent), std::move(meaning));
  g.type = GeneType::kNumber;
  g.min_excluded = min_excluded;
  return g;
}

GeneInfo Names(absl::string_view name, std::vector<std::string> names, std::string absent,
               std::string meaning) {
  GeneInfo g;
  g.name = std::string(name);
  g.type = GeneType::kName;
  g.names = std::move(names);
  g.absent = std::move(absent);
  g.meaning = std::move(meaning);
  return g;
}

GeneInfo ForCnn(GeneInfo g) {
  g.nets = GeneNets::kCnn;
  return g;
}

// The registry's one entry for nb_neurons_1 ... nb_neurons_64.
std::string LayerWidthFamily() { return absl::StrCat(kGeneLayerWidthPrefix, "<i>"); }

std::vector<GeneInfo> MakeTrainerGenes() {
  std::vector<GeneInfo> genes;
  genes.push_back(Integer(kGeneNbNeurons, 1, kMaxNbNeurons, "64",
                          "units of each hidden dense layer (MLP) or filters of each conv block "
                          "(CNN) that has no nb_neurons_i of its own"));
  genes.push_back(Integer(LayerWidthFamily(), 1, kMaxNbNeurons, "nb_neurons",
                          "layer i's own width (MLP) or conv block i's filters (CNN), "
                          "1 <= i <= 64; inactive, and left out of the genome's identity, when "
                          "i > nb_layers"));
  genes.push_back(Integer(kGeneNbLayers, 1, kMaxNbLayers, "1",
                          "hidden dense layers (MLP) or conv blocks (CNN)"));
  genes.push_back(Names(kGeneActivation, KnownActivations(), "relu",
                        "the hidden layers' activation (Keras's names)"));
  genes.push_back(Names(kGeneOptimizer, KnownOptimizers(), "adam",
                        "Keras 2.0's optimizer, with its default hyperparameters"));
  genes.push_back(Number(kGeneLearningRate, 0, true, kMaxLearningRate,
                         "the optimizer's Keras default",
                         "the optimizer's learning rate, in place of its Keras default"));
  genes.push_back(
      Integer(kGeneBatchSize, 1, kMaxBatchSize, "task.batch_size", "examples per training step"));
  genes.push_back(Number(kGeneDropout, 0, false, kMaxDropout, "0.2",
                         "dropout rate after each hidden dense layer (MLP) or conv block "
                         "(CNN); the CNN's dense head keeps 0.5"));
  genes.push_back(Number(kGeneWeightDecay, 0, false, kMaxWeightDecay, "0",
                         "decoupled weight decay: each step multiplies every weight matrix and "
                         "kernel (not biases or batch-norm scales) by 1 - lr x weight_decay, "
                         "apart from the optimizer's update"));
  genes.push_back(Names(kGeneLrSchedule, {"constant", "cosine", "step"}, "constant",
                        "the learning rate per epoch: constant; cosine from lr down to near 0 "
                        "over task.epochs; step: x0.1 from half the epochs, x0.01 from three "
                        "quarters"));
  genes.push_back(Names(kGeneBatchNorm, {"false", "true"}, "false",
                        "batch normalisation between each hidden layer and its activation"));
  GeneInfo kernel = ForCnn(Integer(kGeneKernelSize, 1, kMaxKernelSize, "3",
                                   "the conv blocks' square kernel (odd): 'same' padding in "
                                   "the first block, 'valid' after"));
  kernel.odd_only = true;
  genes.push_back(std::move(kernel));
  genes.push_back(ForCnn(Names(kGenePooling, {"max", "average"}, "max",
                               "the 2x2 pooling after the first two conv blocks")));
  genes.push_back(ForCnn(Integer(kGeneDenseUnits, 1, kMaxNbNeurons, "the last block's filters",
                                 "units of the dense layer before the output")));
  genes.push_back(ForCnn(Names(kGeneAugmentation, {"none", "flip", "crop_flip"}, "none",
                               "training images changed each epoch: flip mirrors half of them "
                               "left to right; crop_flip also shifts each by up to 2 pixels "
                               "(28x28) or 4 (32x32), padding with zeros")));
  return genes;
}

}  // namespace

const std::vector<std::string>& KnownActivations() {
  static const auto* names = new std::vector<std::string>{
      "relu", "elu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "linear"};
  return *names;
}

const std::vector<std::string>& KnownOptimizers() {
  static const auto* names = new std::vector<std::string>{"rmsprop",  "adam",   "sgd",  "adagrad",
                                                          "adadelta", "adamax", "nadam"};
  return *names;
}

const std::vector<GeneInfo>& TrainerGenes() {
  static const auto* genes = new std::vector<GeneInfo>(MakeTrainerGenes());
  return *genes;
}

const GeneInfo* FindTrainerGene(absl::string_view name, int* layer) {
  if (layer != nullptr) *layer = 0;
  const std::vector<GeneInfo>& genes = TrainerGenes();
  if (absl::ConsumePrefix(&name, kGeneLayerWidthPrefix)) {
    int i = 0;
    if (name.empty() || name[0] == '0' || name.size() > 2 || !absl::SimpleAtoi(name, &i) || i < 1 ||
        i > kMaxNbLayers) {
      return nullptr;
    }
    if (layer != nullptr) *layer = i;
    for (const GeneInfo& g : genes) {
      if (g.name == LayerWidthFamily()) return &g;
    }
    return nullptr;
  }
  for (const GeneInfo& g : genes) {
    if (g.name == name && g.name != LayerWidthFamily()) return &g;
  }
  return nullptr;
}

std::string TrainerGeneNames() {
  std::vector<std::string> names;
  for (const GeneInfo& g : TrainerGenes()) names.push_back(g.name);
  return absl::StrJoin(names, ", ");
}

GeneValue CoerceTrainerValue(const GeneInfo& info, GeneValue value) {
  if (const auto* i = std::get_if<int64_t>(&value);
      i != nullptr && info.type == GeneType::kNumber) {
    return static_cast<double>(*i);
  }
  return value;
}

absl::Status CheckTrainerValue(const GeneInfo& info, const GeneValue& value,
                               absl::string_view field) {
  auto invalid = [&](const std::string& message) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
  };
  const std::string gene = info.name;
  switch (info.type) {
    case GeneType::kName: {
      const auto* name = std::get_if<std::string>(&value);
      if (name == nullptr) {
        return invalid(absl::StrCat("gene '", gene, "' takes names (",
                                    absl::StrJoin(info.names, ", "), "); got '",
                                    GeneValueToString(value), "'"));
      }
      if (std::find(info.names.begin(), info.names.end(), *name) == info.names.end()) {
        return invalid(absl::StrCat("unknown ", gene, " '", *name,
                                    "' (known: ", absl::StrJoin(info.names, ", "), ")"));
      }
      return absl::OkStatus();
    }
    case GeneType::kInteger: {
      const auto* v = std::get_if<int64_t>(&value);
      if (v == nullptr) {
        return invalid(absl::StrCat(gene, " takes integers; got '", GeneValueToString(value), "'"));
      }
      if (*v < info.min || *v > info.max || (info.odd_only && *v % 2 == 0)) {
        return invalid(absl::StrCat(gene, " must be ", info.odd_only ? "odd and " : "", "in [",
                                    info.min, ", ", info.max, "], got ", *v));
      }
      return absl::OkStatus();
    }
    case GeneType::kNumber: {
      const auto* x = std::get_if<double>(&value);
      if (x == nullptr) {
        return invalid(absl::StrCat(gene, " takes numbers; got '", GeneValueToString(value), "'"));
      }
      if (!((info.min_excluded ? *x > info.min : *x >= info.min) && *x <= info.max)) {
        return invalid(absl::StrCat(gene, " must be in ", info.min_excluded ? "(" : "[", info.min,
                                    ", ", info.max, "], got ", GeneValueToString(value)));
      }
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status CheckGenesForNet(const SearchSpace& space, v1::NetKind net) {
  if (net == v1::CNN) return absl::OkStatus();
  for (int g = 0; g < space.num_genes(); ++g) {
    const GeneInfo* info = FindTrainerGene(space.gene(g).name);
    if (info != nullptr && info->nets == GeneNets::kCnn) {
      return absl::InvalidArgumentError(
          absl::StrCat("space.genes[", g, "].name: gene '", space.gene(g).name,
                       "' shapes only CNNs; this search trains MLPs (task.net)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace deepevolve::genome
