#include "master/ga/presets.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "genome/genes.h"

namespace deepevolve::ga {
namespace {

v1::GeneSpace ToProto(const std::vector<genome::Gene>& genes) {
  v1::GeneSpace space;
  for (const genome::Gene& gene : genes) {
    v1::Gene* g = space.add_genes();
    g->set_name(gene.name);
    for (const auto& value : gene.values) *g->add_values() = genome::GeneValueToProto(value);
  }
  return space;
}

v1::GeneSpace FourGeneSpace(const std::vector<int64_t>& nb_neurons) {
  std::vector<genome::Gene> genes;
  genes.push_back({std::string(genome::kGeneNbNeurons), {}});
  for (int64_t n : nb_neurons) genes.back().values.emplace_back(n);
  genes.push_back({std::string(genome::kGeneNbLayers), {}});
  for (int64_t n = 1; n <= 5; ++n) genes.back().values.emplace_back(n);
  genes.push_back({std::string(genome::kGeneActivation), {}});
  for (const auto& a : genome::KnownActivations()) genes.back().values.emplace_back(a);
  genes.push_back({std::string(genome::kGeneOptimizer), {}});
  for (const auto& o : genome::KnownOptimizers()) genes.back().values.emplace_back(o);
  return ToProto(genes);
}

genome::Gene Gene(absl::string_view name, std::vector<genome::GeneValue> values) {
  return {std::string(name), std::move(values)};
}

std::vector<genome::GeneValue> Ints(std::initializer_list<int64_t> values) {
  return {values.begin(), values.end()};
}

std::vector<genome::GeneValue> Names(std::initializer_list<const char*> values) {
  std::vector<genome::GeneValue> out;
  for (const char* v : values) out.emplace_back(std::string(v));
  return out;
}

std::vector<genome::GeneValue> Numbers(std::initializer_list<double> values) {
  return {values.begin(), values.end()};
}

// The genes tuned first, whatever the net: the optimizer and its rate, the batch,
// regularisation and the schedule.
void AddTrainingGenes(std::vector<genome::Gene>* genes) {
  using namespace genome;  // NOLINT: the gene names
  genes->push_back(Gene(kGeneActivation, Names({"relu", "elu", "tanh"})));
  genes->push_back(Gene(kGeneOptimizer, Names({"adam", "nadam", "rmsprop", "sgd"})));
  // 1e-4 .. 1e-1 on a log scale, half a decade apart.
  genes->push_back(
      Gene(kGeneLearningRate, Numbers({1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 1e-1})));
  genes->push_back(Gene(kGeneBatchSize, Ints({32, 64, 128, 256})));
  genes->push_back(Gene(kGeneDropout, Numbers({0.0, 0.1, 0.2, 0.3, 0.4, 0.5})));
  genes->push_back(Gene(kGeneWeightDecay, Numbers({0.0, 1e-5, 1e-4, 1e-3})));
  genes->push_back(Gene(kGeneLrSchedule, Names({"constant", "cosine", "step"})));
  genes->push_back(Gene(kGeneBatchNorm, Names({"false", "true"})));
}

// Up to three hidden layers, each its own width.
v1::GeneSpace MlpSpace() {
  using namespace genome;  // NOLINT: the gene names
  std::vector<genome::Gene> genes;
  genes.push_back(Gene(kGeneNbLayers, Ints({1, 2, 3})));
  for (int i = 1; i <= 3; ++i) {
    genes.push_back(Gene(absl::StrCat(kGeneLayerWidthPrefix, i), Ints({128, 256, 512, 1024})));
  }
  AddTrainingGenes(&genes);
  return ToProto(genes);
}

// Conv blocks with their own filters, kernel, pooling, the dense head and augmentation.
v1::GeneSpace CnnSpace(std::initializer_list<int64_t> layers) {
  using namespace genome;  // NOLINT: the gene names
  std::vector<genome::Gene> genes;
  genes.push_back(Gene(kGeneNbLayers, Ints(layers)));
  for (int i = 1; i <= static_cast<int>(*std::max_element(layers.begin(), layers.end())); ++i) {
    genes.push_back(Gene(absl::StrCat(kGeneLayerWidthPrefix, i), Ints({32, 64, 128})));
  }
  genes.push_back(Gene(kGeneKernelSize, Ints({3, 5})));
  genes.push_back(Gene(kGenePooling, Names({"max", "average"})));
  genes.push_back(Gene(kGeneDenseUnits, Ints({64, 128, 256})));
  genes.push_back(Gene(kGeneAugmentation, Names({"none", "flip", "crop_flip"})));
  AddTrainingGenes(&genes);
  return ToProto(genes);
}

Preset MakePreset(std::string name, std::string description, std::string dataset, v1::NetKind net,
                  v1::GeneSpace space) {
  Preset p;
  p.name = std::move(name);
  p.description = std::move(description);
  p.space = std::move(space);
  p.task.set_dataset(std::move(dataset));
  p.task.set_net(net);
  p.task.set_batch_size(net == v1::CNN ? 128 : 64);
  return p;
}

// One of DeepEvolve's presets: its four genes with these nb_neurons.
Preset MakePreset(std::string name, std::string description, std::string dataset, v1::NetKind net,
                  const std::vector<int64_t>& nb_neurons) {
  return MakePreset(std::move(name), std::move(description), std::move(dataset), net,
                    FourGeneSpace(nb_neurons));
}

}  // namespace

const std::vector<Preset>& Presets() {
  static const auto* presets = new std::vector<Preset>{
      MakePreset("mnist_mlp", "MNIST digits, MLP (DeepEvolve ds=1)", "mnist", v1::MLP, {64, 128}),
      MakePreset("mnist_cnn", "MNIST digits, CNN (DeepEvolve ds=2)", "mnist", v1::CNN,
                 {16, 32, 64, 128}),
      MakePreset("cifar10_mlp", "CIFAR-10, MLP (DeepEvolve ds=3)", "cifar10", v1::MLP,
                 {64, 128, 256, 512, 768, 1024}),
      MakePreset("cifar10_cnn", "CIFAR-10, CNN (DeepEvolve ds=4, its default)", "cifar10", v1::CNN,
                 {16, 32, 64, 128}),
      MakePreset("fashion_mnist_mlp", "Fashion-MNIST, MLP (mnist_mlp's genes)", "fashion_mnist",
                 v1::MLP, {64, 128}),
      MakePreset("fashion_mnist_cnn", "Fashion-MNIST, CNN (mnist_cnn's genes)", "fashion_mnist",
                 v1::CNN, {16, 32, 64, 128}),
      MakePreset("fashion_mnist_mlp_full",
                 "Fashion-MNIST, MLP over the full gene vocabulary (3 layers' widths, "
                 "learning rate, batch, dropout, decay, schedule, batch norm)",
                 "fashion_mnist", v1::MLP, MlpSpace()),
      MakePreset("fashion_mnist_cnn_full",
                 "Fashion-MNIST, CNN over the full gene vocabulary (filters per block, "
                 "kernel, pooling, head, augmentation and the training genes)",
                 "fashion_mnist", v1::CNN, CnnSpace({1, 2, 3})),
      MakePreset("cifar10_cnn_full", "CIFAR-10, CNN over the full gene vocabulary (2 or 3 blocks)",
                 "cifar10", v1::CNN, CnnSpace({2, 3})),
  };
  return *presets;
}

const Preset* FindPreset(absl::string_view name) {
  for (const Preset& p : Presets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace deepevolve::ga
