// The benchmarks' search space: the trainer's four genes at their widest, 800 000
// genomes, so that a benchmark never runs out of unseen genomes.
#ifndef DEEPEVOLVE_BENCH_WIDE_SPACE_H_
#define DEEPEVOLVE_BENCH_WIDE_SPACE_H_

#include "deepevolve/v1/genome.pb.h"

namespace deepevolve::bench {

// nb_neurons 1..256, nb_layers 1..64, 7 activations, 7 optimizers.
inline void AddWideMlpSpace(v1::GeneSpace* space) {
  auto* neurons = space->add_genes();
  neurons->set_name("nb_neurons");
  for (int v = 1; v <= 256; ++v) neurons->add_values()->set_int_value(v);
  auto* layers = space->add_genes();
  layers->set_name("nb_layers");
  for (int v = 1; v <= 64; ++v) layers->add_values()->set_int_value(v);
  auto* activation = space->add_genes();
  activation->set_name("activation");
  for (const char* a : {"relu", "elu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "linear"}) {
    activation->add_values()->set_string_value(a);
  }
  auto* optimizer = space->add_genes();
  optimizer->set_name("optimizer");
  for (const char* o : {"rmsprop", "adam", "sgd", "adagrad", "adadelta", "adamax", "nadam"}) {
    optimizer->add_values()->set_string_value(o);
  }
}

}  // namespace deepevolve::bench

#endif  // DEEPEVOLVE_BENCH_WIDE_SPACE_H_
