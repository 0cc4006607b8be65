// The named search presets: DeepEvolve's four, Fashion-MNIST's two with their genes, and
// three over the full gene vocabulary (genome/genes.h).
#ifndef DEEPEVOLVE_MASTER_GA_PRESETS_H_
#define DEEPEVOLVE_MASTER_GA_PRESETS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "deepevolve/v1/search.pb.h"

namespace deepevolve::ga {

struct Preset {
  std::string name;
  std::string description;
  v1::GeneSpace space;
  v1::TaskSpec task;  // dataset, net kind and batch size; other fields default
};

// All presets, in a stable order. The first six's gene lists are DeepEvolve's main.py
// lists, genes in its insertion order (nb_neurons, nb_layers, activation, optimizer),
// which is also brute.py's nesting order; the *_full ones follow.
const std::vector<Preset>& Presets();

// The preset named `name`, or nullptr.
const Preset* FindPreset(absl::string_view name);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_PRESETS_H_
