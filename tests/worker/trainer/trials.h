// Genomes and tasks for the trainer's tests that train for real (train_test.cc on the
// CPU, cuda_test.cc on a GPU).
#ifndef DEEPEVOLVE_TESTS_WORKER_TRAINER_TRIALS_H_
#define DEEPEVOLVE_TESTS_WORKER_TRAINER_TRIALS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "deepevolve/v1/search.pb.h"
#include "genome/genome.h"
#include "gtest/gtest.h"
#include "master/ga/spec.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::trainer::trials {

// DeepEvolve's four genes.
inline genome::NamedGenome Genome(int64_t neurons, int64_t layers, const char* activation,
                                  const char* optimizer) {
  return {{"nb_neurons", neurons},
          {"nb_layers", layers},
          {"activation", std::string(activation)},
          {"optimizer", std::string(optimizer)}};
}

// A two-block CNN over every newer gene: `first` and `second` filters, a dense head of
// `dense` units, 5x5 kernels, average pooling, batch normalisation, crop-and-flip
// augmentation, batch 64, weight decay 1e-4, a cosine schedule from 3e-3 (the last gene).
inline genome::NamedGenome NewGenesCnn(int64_t first, int64_t second, int64_t dense) {
  return {{"nb_layers", int64_t{2}},
          {"nb_neurons_1", first},
          {"nb_neurons_2", second},
          {"dense_units", dense},
          {"kernel_size", int64_t{5}},
          {"pooling", std::string("average")},
          {"batch_norm", std::string("true")},
          {"augmentation", std::string("crop_flip")},
          {"batch_size", int64_t{64}},
          {"weight_decay", 1e-4},
          {"lr_schedule", std::string("cosine")},
          {"learning_rate", 3e-3}};
}

// A trainer on the CPU.
inline std::unique_ptr<Trainer> CpuTrainer() {
  TrainerOptions o;
  o.device = "cpu";
  auto t = Trainer::Create(o);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

// 512-512 relu adam at a learning rate of 0.003: on a few hundred images its validation
// loss rises after a few epochs.
inline genome::NamedGenome OverfittingMlp() {
  genome::NamedGenome genome = Genome(512, 2, "relu", "adam");
  genome.emplace_back("learning_rate", 0.003);
  return genome;
}

// 8 epochs on the first 600 training images that keep the best epoch's weights, ending
// after `patience` epochs without a drop in validation loss.
inline v1::TaskSpec OverfittingTask(int patience);

// A preset's task on the first `train_limit` training images and 2 000 test images.
inline v1::TaskSpec Task(const char* preset, int train_limit, int epochs) {
  v1::SearchSpec spec;
  spec.set_preset(preset);
  spec.mutable_task()->set_train_limit(train_limit);
  spec.mutable_task()->set_test_limit(2000);
  spec.mutable_task()->set_epochs(epochs);
  return ga::ResolveSearchSpec(spec)->task();
}

inline v1::TaskSpec OverfittingTask(int patience) {
  v1::TaskSpec task = Task("fashion_mnist_mlp", 600, 8);
  task.set_early_stop_patience(patience);
  task.set_early_stop_min_delta(0);
  task.set_restore_best_weights(true);
  return task;
}

}  // namespace deepevolve::trainer::trials

#endif  // DEEPEVOLVE_TESTS_WORKER_TRAINER_TRIALS_H_
