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
  // Applies one update to every parameter from its .grad(): first the weight decay,
  // then the optimizer's rule. Parameters without a gradient are left alone.
  void Step();
  // Drops every gradient (backward then sets fresh ones).
  void ZeroGrad();
  // Parameter updates made by the fused path so far.
  int64_t fused_updates() const { return fused_updates_; }
  // Parameter updates made by the multi-tensor path so far.
  int64_t multi_tensor_updates() const { return multi_tensor_updates_; }

  // The learning rate the next steps use (a schedule changes it between epochs).
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) {
    lr_ = lr;
    lr_f_ = static_cast<float>(lr);
  }
  // Decoupled weight decay (the weight_decay gene; 0, none, by default): each step first
  // multiplies every weight matrix and kernel (parameters of two or more dimensions:
  // not biases, not batch-norm scales) by 1 - learning_rate x decay, as LibTorch's AdamW
  // does, rather than adding an L2 term to the loss. Through the loss the decay would
  // be divided by each weight's adaptive step size in Adam, RMSprop and the others, so
  // weights with large gradients would hardly decay (Loshchilov and Hutter, "Decoupled
  // Weight Decay Regularization", 2019).
  void set_weight_decay(double decay) { weight_decay_ = decay; }

  // What the updates so far left behind (each parameter's moments, the step count), for
  // a checkpoint: LoadState into an optimizer of the same name over parameters of the
  // same shapes continues exactly where this one is. INVALID_ARGUMENT when the state
  // does not fit this optimizer.
  struct State {
    std::vector<torch::Tensor> tensors;
    std::vector<double> numbers;
  };
  virtual State SaveState() const { return {}; }
  virtual absl::Status LoadState(const State& state);

 protected:
  KerasOptimizer(std::vector<torch::Tensor> params, double lr)
      : params_(std::move(params)), lr_(lr), lr_f_(static_cast<float>(lr)) {}
  // The optimizer's own rule, with learning rate lr_ (lr_f_ in float).
  virtual void Update() = 0;
  std::vector<torch::Tensor> params_;
  int64_t fused_updates_ = 0;
  int64_t multi_tensor_updates_ = 0;
  double lr_;
  float lr_f_;
  double weight_decay_ = 0;
};

// kFused updates each float32 CPU parameter in one pass over it, its gradient and its
// state (the same arithmetic in float), and every other parameter (CUDA, float64) with
// LibTorch's multi-tensor operations (torch._foreach_*): each operation one kernel
// launch for all of them rather than one per parameter, which is what a small network's
// step on a GPU costs (bench/README.md, "GPU"). kTensorOps composes LibTorch tensor
// operations parameter by parameter: the reference the other two are tested against.
enum class OptimizerPath { kFused, kTensorOps };

// INVALID_ARGUMENT for a name that is not one of the seven. `learning_rate` replaces
// the optimizer's Keras default (the learning_rate gene); the other hyperparameters
// keep theirs.
absl::StatusOr<std::unique_ptr<KerasOptimizer>> MakeOptimizer(
    const std::string& name, std::vector<torch::Tensor> params,
    OptimizerPath path = OptimizerPath::kFused, std::optional<double> learning_rate = std::nullopt);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_OPTIM_H_
