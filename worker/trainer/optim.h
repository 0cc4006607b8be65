// The seven Keras 2.0 optimizers with their default hyperparameters, written against
// Keras's update rules (LibTorch lacks Adadelta, Adamax and Nadam, and its RMSprop,
// Adagrad and Adam differ from Keras in defaults or in where epsilon goes).
#ifndef DEEPEVOLVE_WORKER_TRAINER_OPTIM_H_
#define DEEPEVOLVE_WORKER_TRAINER_OPTIM_H_

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace deepevolve::trainer {

// Keras 2.0 defaults:
//   sgd      lr 0.01
//   rmsprop  lr 0.001, rho 0.9,  eps 1e-8
//   adagrad  lr 0.01,  eps 1e-8
//   adadelta lr 1.0,   rho 0.95, eps 1e-8
//   adam     lr 0.001, beta1 0.9, beta2 0.999, eps 1e-8 (bias correction folded into lr)
//   adamax   lr 0.002, beta1 0.9, beta2 0.999, eps 1e-8
//   nadam    lr 0.002, beta1 0.9, beta2 0.999, eps 1e-8, schedule_decay 0.004
class KerasOptimizer {
 public:
  virtual ~KerasOptimizer() = default;
  // Applies one update to every parameter from its .grad(). Parameters without a
  // gradient are left alone.
  virtual void Step() = 0;
  // Drops every gradient (backward then sets fresh ones).
  void ZeroGrad();
  // Parameter updates made by the fused path so far.
  int64_t fused_updates() const { return fused_updates_; }

 protected:
  explicit KerasOptimizer(std::vector<torch::Tensor> params) : params_(std::move(params)) {}
  std::vector<torch::Tensor> params_;
  int64_t fused_updates_ = 0;
};

// kFused updates each float32 CPU parameter in one pass over it, its gradient and its
// state (the same arithmetic in float); kTensorOps composes LibTorch tensor operations,
// several passes, and is what every other parameter (float64, CUDA) gets either way.
enum class OptimizerPath { kFused, kTensorOps };

// INVALID_ARGUMENT for a name that is not one of the seven. `learning_rate` replaces
// the optimizer's Keras default (the learning_rate gene); the other hyperparameters
// keep theirs.
absl::StatusOr<std::unique_ptr<KerasOptimizer>> MakeOptimizer(
    const std::string& name, std::vector<torch::Tensor> params,
    OptimizerPath path = OptimizerPath::kFused, std::optional<double> learning_rate = std::nullopt);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_OPTIM_H_
