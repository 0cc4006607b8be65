// The size of the built-in trainer's networks, known to master and worker alike: the
// master refuses a space whose largest genome would not fit any worker, and the worker
// checks a genome against its own device before building it.
#ifndef DEEPEVOLVE_GENOME_NETWORK_H_
#define DEEPEVOLVE_GENOME_NETWORK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"

namespace deepevolve::genome {

// The genes that shape a network, and the data it sees.
struct NetShape {
  v1::NetKind kind = v1::MLP;
  int64_t nb_neurons = 64;
  int64_t nb_layers = 1;
  std::vector<int64_t> input_shape;  // {C, H, W} for images, {D} for feature vectors
  int64_t num_classes = 10;
};

// A CNN's spatial size after its conv blocks (3x3 convolutions, 'same' padding for the
// first and 'valid' after, 2x2 pooling after the first two). INVALID_ARGUMENT saying
// which layer collapses the input.
absl::StatusOr<std::pair<int64_t, int64_t>> ConvOutput(const NetShape& net);

// Trainable parameters (the reference's formulas; a collapsing CNN counts no dense
// input).
int64_t ParameterCount(const NetShape& net);

// A bound on the memory training takes: weights, gradients and two optimizer moments
// (16 bytes a parameter) and each layer's activations kept for the backward pass, for
// a batch of `batch_size`.
int64_t TrainingBytes(const NetShape& net, int64_t batch_size);

// The input shape and classes of a named dataset ("mnist", "fashion_mnist",
// "cifar10"); nullopt for CSV files, whose shape is known only once read.
std::optional<std::pair<std::vector<int64_t>, int64_t>> KnownDatasetShape(
    const std::string& dataset);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_NETWORK_H_
