// The genes the built-in trainer builds networks from: one registry that the master
// checks submitted spaces against, the worker builds from, and README's table lists.
#ifndef DEEPEVOLVE_GENOME_GENES_H_
#define DEEPEVOLVE_GENOME_GENES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/space.h"

namespace deepevolve::genome {

inline constexpr absl::string_view kGeneNbNeurons = "nb_neurons";
inline constexpr absl::string_view kGeneNbLayers = "nb_layers";
inline constexpr absl::string_view kGeneActivation = "activation";
inline constexpr absl::string_view kGeneOptimizer = "optimizer";
inline constexpr absl::string_view kGeneLearningRate = "learning_rate";
inline constexpr absl::string_view kGeneBatchSize = "batch_size";
inline constexpr absl::string_view kGeneDropout = "dropout";
inline constexpr absl::string_view kGeneWeightDecay = "weight_decay";
inline constexpr absl::string_view kGeneLrSchedule = "lr_schedule";
inline constexpr absl::string_view kGeneBatchNorm = "batch_norm";
inline constexpr absl::string_view kGeneKernelSize = "kernel_size";
inline constexpr absl::string_view kGenePooling = "pooling";
inline constexpr absl::string_view kGeneDenseUnits = "dense_units";
inline constexpr absl::string_view kGeneAugmentation = "augmentation";
// Layer i's own width: nb_neurons_1 ... nb_neurons_64.
inline constexpr absl::string_view kGeneLayerWidthPrefix = "nb_neurons_";

inline constexpr int64_t kMaxNbNeurons = 65536;
inline constexpr int64_t kMaxNbLayers = 64;
inline constexpr double kMaxLearningRate = 10;
inline constexpr int64_t kMaxBatchSize = 8192;
inline constexpr double kMaxDropout = 0.9;
inline constexpr double kMaxWeightDecay = 0.1;
inline constexpr int64_t kMaxKernelSize = 9;

const std::vector<std::string>& KnownActivations();
const std::vector<std::string>& KnownOptimizers();

enum class GeneType { kInteger, kNumber, kName };
// The networks a gene shapes; a gene for CNNs only is refused in an MLP search.
enum class GeneNets { kBoth, kCnn };

// One gene of the vocabulary.
struct GeneInfo {
  std::string name;  // "nb_neurons_<i>" stands for the per-layer family
  GeneType type = GeneType::kInteger;
  // Integers and numbers: the inclusive range, the lower bound excluded when
  // `min_excluded`. Integers with `odd_only` take odd values.
  double min = 0;
  double max = 0;
  bool min_excluded = false;
  bool odd_only = false;
  std::vector<std::string> names;  // kName: the values it takes
  std::string absent;              // what a genome without the gene gets
  GeneNets nets = GeneNets::kBoth;
  std::string meaning;
};

// Every gene, in the order README's table shows them.
const std::vector<GeneInfo>& TrainerGenes();

// The entry for `name`, nullptr for a name that is not a trainer gene. For
// nb_neurons_<i> (1 <= i <= kMaxNbLayers, no leading zero) sets `*layer` to i (else 0).
const GeneInfo* FindTrainerGene(absl::string_view name, int* layer = nullptr);

// "nb_neurons, nb_neurons_<i>, nb_layers, ...": the known names, for error messages.
std::string TrainerGeneNames();

// The trainer's number genes take an integer as that number (`dropout: [0, 0.5]`), so
// that 0 and 0.0 are one value: returns `value` as the type `info` takes where it is an
// integer given for a number.
GeneValue CoerceTrainerValue(const GeneInfo& info, GeneValue value);

// OK when `value` is one `info` takes; otherwise INVALID_ARGUMENT "<field>: ..." saying
// what it takes (type, range, or the known names).
absl::Status CheckTrainerValue(const GeneInfo& info, const GeneValue& value,
                               absl::string_view field);

// INVALID_ARGUMENT naming the gene when a gene of `space` does not shape a `net`
// network (kernel_size in an MLP search).
absl::Status CheckGenesForNet(const SearchSpace& space, v1::NetKind net);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_GENES_H_
