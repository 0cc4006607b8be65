#include "genome/network.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace deepevolve::genome {

absl::StatusOr<std::pair<int64_t, int64_t>> ConvOutput(const NetShape& c) {
  if (c.input_shape.size() != 3) {
    return absl::InvalidArgumentError("a CNN needs image data (channels x height x width)");
  }
  int64_t h = c.input_shape[1], w = c.input_shape[2];
  for (int64_t i = 0; i < c.nb_layers; ++i) {
    if (i > 0) {  // 'valid' padding loses two rows and columns
      if (h < 3 || w < 3) {
        return absl::InvalidArgumentError(absl::StrCat(
            "nb_layers=", c.nb_layers, " collapses a ", c.input_shape[1], "x", c.input_shape[2],
            " input: conv layer ", i + 1, " gets ", h, "x", w, " and needs at least 3x3"));
      }
      h -= 2;
      w -= 2;
    }
    if (i < 2) {
      h /= 2;
      w /= 2;
    }
    if (h < 1 || w < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("nb_layers=", c.nb_layers, " pools the input away after layer ", i + 1));
    }
  }
  return std::make_pair(h, w);
}

int64_t ParameterCount(const NetShape& c) {
  const int64_t f = c.nb_neurons, l = c.nb_layers, k = c.num_classes;
  if (c.kind == v1::MLP) {
    int64_t in = 1;
    for (int64_t d : c.input_shape) in *= d;
    return in * f + f + (l - 1) * (f * f + f) + k * f + k;
  }
  auto hw = ConvOutput(c);
  const int64_t s2 = hw.ok() ? hw->first * hw->second : 0;
  const int64_t channels = c.input_shape.empty() ? 1 : c.input_shape[0];
  return 9 * channels * f + f + (l - 1) * (9 * f * f + f) + s2 * f * f + f + k * f + k;
}

int64_t TrainingBytes(const NetShape& c, int64_t batch_size) {
  int64_t activations = 0;  // floats per example
  if (c.kind == v1::MLP) {
    activations = c.nb_neurons * c.nb_layers + c.num_classes;
  } else if (c.input_shape.size() == 3) {
    // Every block's feature maps at most at the input's resolution.
    activations = c.nb_neurons * c.input_shape[1] * c.input_shape[2] * c.nb_layers + c.nb_neurons +
                  c.num_classes;
  }
  // Activations, their gradients and the pre-activation values: three copies.
  return 16 * ParameterCount(c) + 3 * 4 * batch_size * activations;
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
