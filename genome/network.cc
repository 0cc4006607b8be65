#include "genome/network.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "genome/genes.h"

namespace deepevolve::genome {

absl::StatusOr<Network> NetworkFor(const NamedGenome& genome, v1::NetKind kind,
                                   std::vector<int64_t> input_shape, int64_t num_classes) {
  Network net;
  net.kind = kind;
  net.input_shape = std::move(input_shape);
  net.num_classes = num_classes;
  int64_t nb_neurons = 64, nb_layers = 1;
  std::optional<int64_t> dense_units;
  std::map<int, int64_t> own_widths;
  for (const auto& [name, raw] : genome) {
    int layer = 0;
    const GeneInfo* info = FindTrainerGene(name, &layer);
    if (info == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("gene '", name.substr(0, 64),
                       "' is not one the trainer builds from (known: ", TrainerGeneNames(), ")"));
    }
    if (info->nets == GeneNets::kCnn && kind != v1::CNN) {
      return absl::InvalidArgumentError(
          absl::StrCat("gene '", name, "' shapes only CNNs; this task trains an MLP"));
    }
    const GeneValue value = CoerceTrainerValue(*info, raw);
    if (absl::Status s = CheckTrainerValue(*info, value, absl::StrCat("gene ", name)); !s.ok()) {
      return s;
    }
    const auto* i = std::get_if<int64_t>(&value);
    const auto* x = std::get_if<double>(&value);
    const auto* s = std::get_if<std::string>(&value);
    if (layer > 0) {
      own_widths[layer] = *i;
    } else if (name == kGeneNbNeurons) {
      nb_neurons = *i;
    } else if (name == kGeneNbLayers) {
      nb_layers = *i;
    } else if (name == kGeneActivation) {
      net.activation = *s;
    } else if (name == kGeneOptimizer) {
      net.optimizer = *s;
    } else if (name == kGeneLearningRate) {
      net.learning_rate = *x;
    } else if (name == kGeneBatchSize) {
      net.batch_size = *i;
    } else if (name == kGeneDropout) {
      net.dropout = *x;
    } else if (name == kGeneWeightDecay) {
      net.weight_decay = *x;
    } else if (name == kGeneLrSchedule) {
      net.lr_schedule = *s;
    } else if (name == kGeneBatchNorm) {
      net.batch_norm = *s == "true";
    } else if (name == kGeneKernelSize) {
      net.kernel_size = *i;
    } else if (name == kGenePooling) {
      net.pooling = *s;
    } else if (name == kGeneDenseUnits) {
      dense_units = *i;
    } else if (name == kGeneAugmentation) {
      net.augmentation = *s;
    }
  }
  net.widths.assign(nb_layers, nb_neurons);
  // A width for a layer the genome does not have is inactive: it changes nothing.
  for (const auto& [layer, width] : own_widths) {
    if (layer <= nb_layers) net.widths[layer - 1] = width;
  }
  net.dense_units = dense_units.value_or(net.widths.back());
  return net;
}

absl::StatusOr<std::pair<int64_t, int64_t>> ConvOutput(const Network& c) {
  if (c.input_shape.size() != 3) {
    return absl::InvalidArgumentError("a CNN needs image data (channels x height x width)");
  }
  const int64_t k = c.kernel_size, shrink = c.kernel_size - 1;
  int64_t h = c.input_shape[1], w = c.input_shape[2];
  for (int64_t i = 0; i < c.nb_layers(); ++i) {
    if (i > 0) {  // 'valid' padding loses kernel_size - 1 rows and columns
      if (h < k || w < k) {
        return absl::InvalidArgumentError(absl::StrCat(
            "nb_layers=", c.nb_layers(), " collapses a ", c.input_shape[1], "x", c.input_shape[2],
            " input: conv layer ", i + 1, " gets ", h, "x", w, " and needs at least ", k, "x", k));
      }
      h -= shrink;
      w -= shrink;
    }
    if (i < 2) {
      h /= 2;
      w /= 2;
    }
    if (h < 1 || w < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("nb_layers=", c.nb_layers(), " pools the input away after layer ", i + 1));
    }
  }
  return std::make_pair(h, w);
}

int64_t ParameterCount(const Network& c) {
  const int64_t k = c.num_classes;
  const int64_t norm = c.batch_norm ? 2 : 0;  // scale and shift a feature
  int64_t count = 0;
  if (c.kind == v1::MLP) {
    int64_t in = 1;
    for (int64_t d : c.input_shape) in *= d;
    for (int64_t width : c.widths) {
      count += in * width + width + norm * width;
      in = width;
    }
    return count + k * in + k;
  }
  auto hw = ConvOutput(c);
  const int64_t s2 = hw.ok() ? hw->first * hw->second : 0;
  int64_t channels = c.input_shape.empty() ? 1 : c.input_shape[0];
  const int64_t kk = c.kernel_size * c.kernel_size;
  for (int64_t width : c.widths) {
    count += kk * channels * width + width + norm * width;
    channels = width;
  }
  const int64_t d = c.dense_units;
  return count + s2 * channels * d + d + norm * d + k * d + k;
}

int64_t TrainingBytes(const Network& c, int64_t batch_size) {
  int64_t activations = 0;  // floats per example
  const int64_t widths = std::accumulate(c.widths.begin(), c.widths.end(), int64_t{0});
  if (c.kind == v1::MLP) {
    activations = widths + c.num_classes;
  } else if (c.input_shape.size() == 3) {
    // Every block's feature maps at most at the input's resolution.
    activations = widths * c.input_shape[1] * c.input_shape[2] + c.dense_units + c.num_classes;
  }
  // Activations, their gradients and the pre-activation values: three copies; batch
  // normalisation keeps two more.
  const int64_t copies = c.batch_norm ? 5 : 3;
  return 16 * ParameterCount(c) + copies * 4 * batch_size * activations;
}

std::optional<std::pair<std::vector<int64_t>, int64_t>> KnownDatasetShape(
    const std::string& dataset) {
  if (dataset == "mnist" || dataset == "fashion_mnist") {
    return std::make_pair(std::vector<int64_t>{1, 28, 28}, int64_t{10});
  }
  if (dataset == "cifar10") return std::make_pair(std::vector<int64_t>{3, 32, 32}, int64_t{10});
  return std::nullopt;
}

}  // namespace deepevolve::genome
