// The network a genome describes for the built-in trainer, known to master and worker
// alike: the worker builds it, the master sizes it (a space whose largest genome would
// not fit any worker is refused), and the worker checks it against its own device
// before building it.
#ifndef DEEPEVOLVE_GENOME_NETWORK_H_
#define DEEPEVOLVE_GENOME_NETWORK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"

namespace deepevolve::genome {

// Every gene of genes.h resolved, absent ones at their documented values, and the
// data the network sees.
struct Network {
  v1::NetKind kind = v1::MLP;
  std::vector<int64_t> input_shape;  // {C, H, W} for images, {D} for feature vectors
  int64_t num_classes = 10;
  // Hidden dense layers (MLP) or conv blocks' filters (CNN), one entry a layer.
  std::vector<int64_t> widths = {64};
  int64_t dense_units = 64;  // CNN: the dense layer before the output
  std::string activation = "relu";
  bool batch_norm = false;
  double dropout = 0.2;
  int64_t kernel_size = 3;            // CNN
  std::string pooling = "max";        // CNN: "max" or "average"
  std::string augmentation = "none";  // CNN: "none", "flip" or "crop_flip"
  // How it trains.
  std::string optimizer = "adam";
  std::optional<double> learning_rate;  // absent: the optimizer's Keras default
  std::optional<int64_t> batch_size;    // absent: the task's
  double weight_decay = 0;
  std::string lr_schedule = "constant";

  int64_t nb_layers() const { return static_cast<int64_t>(widths.size()); }
};

// The network `genome` describes for a `kind` net on data of `input_shape` with
// `num_classes` classes. INVALID_ARGUMENT naming the gene for a gene the trainer does
// not know, a value it does not take, or a gene for CNNs in an MLP.
absl::StatusOr<Network> NetworkFor(const NamedGenome& genome, v1::NetKind kind,
                                   std::vector<int64_t> input_shape, int64_t num_classes);

// A CNN's spatial size after its conv blocks ('same' padding in the first block and
// 'valid' after, 2x2 pooling after the first two). INVALID_ARGUMENT saying which layer
// collapses the input, or that the data are not images.
absl::StatusOr<std::pair<int64_t, int64_t>> ConvOutput(const Network& net);

// Trainable parameters (the reference's formulas, and two a feature for batch
// normalisation; a collapsing CNN counts no dense input).
int64_t ParameterCount(const Network& net);

// A bound on the memory training takes: weights, gradients and two optimizer moments
// (16 bytes a parameter) and each layer's activations kept for the backward pass, for
// a batch of `batch_size`.
int64_t TrainingBytes(const Network& net, int64_t batch_size);

// The input shape and classes of a named dataset ("mnist", "fashion_mnist",
// "cifar10"); nullopt for CSV files, whose shape is known only once read.
std::optional<std::pair<std::vector<int64_t>, int64_t>> KnownDatasetShape(
    const std::string& dataset);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_NETWORK_H_
