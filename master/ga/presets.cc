#include "master/ga/presets.h"

#include "genome/genes.h"

namespace deepevolve::ga {
namespace {

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
  v1::GeneSpace space;
  for (const genome::Gene& gene : genes) {
    v1::Gene* g = space.add_genes();
    g->set_name(gene.name);
    for (const auto& value : gene.values) *g->add_values() = genome::GeneValueToProto(value);
  }
  return space;
}

Preset MakePreset(std::string name, std::string description, std::string dataset, v1::NetKind net,
                  const std::vector<int64_t>& nb_neurons) {
  Preset p;
  p.name = std::move(name);
  p.description = std::move(description);
  p.space = FourGeneSpace(nb_neurons);
  p.task.set_dataset(std::move(dataset));
  p.task.set_net(net);
  p.task.set_batch_size(net == v1::CNN ? 128 : 64);
  return p;
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
