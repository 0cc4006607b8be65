// The Keras-style networks DeepEvolve builds from a genome, in LibTorch.
#ifndef DEEPEVOLVE_WORKER_TRAINER_MODEL_H_
#define DEEPEVOLVE_WORKER_TRAINER_MODEL_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"

namespace deepevolve::trainer {

struct NetConfig {
  v1::NetKind kind = v1::MLP;
  int64_t nb_neurons = 64;
  int64_t nb_layers = 1;
  std::string activation = "relu";
  std::vector<int64_t> input_shape;  // {C, H, W} or {D}
  int64_t num_classes = 10;
  // The rate of the dropout after each hidden dense layer (MLP) or conv block (CNN);
  // the CNN's dense head keeps its 0.5. 0: none. The dropout gene; 0.2 as DeepEvolve.
  double dropout = 0.2;
};

// The random source of one trainer (weights, dropout masks), so trainers sharing a
// process stay reproducible. Empty: torch's default generator (CUDA).
using MaybeGenerator = c10::optional<at::Generator>;

// Keras activations by name; hard_sigmoid is Keras's clip(0.2 x + 0.5, 0, 1).
absl::StatusOr<torch::Tensor> Activate(const std::string& name, const torch::Tensor& x);

// The MLP: nb_layers x [Dense(nb_neurons, activation), Dropout(0.2)], Dense(classes).
// The CNN: for i < nb_layers: Conv2D(nb_neurons, 3x3, 'same' padding for i = 0 only,
// 'valid' after), activation, MaxPool 2x2 for i < 2, Dropout(0.2); then Flatten,
// Dense(nb_neurons, activation), Dropout(0.5), Dense(classes). Outputs logits (the
// softmax is in the loss). Weights glorot-uniform, biases zero, as Keras.
class KerasNetImpl : public torch::nn::Module {
 public:
  KerasNetImpl(const NetConfig& config, MaybeGenerator generator);
  torch::Tensor forward(torch::Tensor x);
  const NetConfig& config() const { return config_; }

 private:
  torch::Tensor Dropout(const torch::Tensor& x, double rate);

  NetConfig config_;
  MaybeGenerator generator_;
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<torch::nn::Linear> dense_;
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(KerasNet);

// Checks that the genome makes a network before anything is built: INVALID_ARGUMENT
// saying which layer collapses (a 5-layer CNN on 28x28, which crashed DeepEvolve).
absl::Status CheckShapes(const NetConfig& config);

// The number of trainable parameters the formulas of the reference give.
int64_t ExpectedParameterCount(const NetConfig& config);

// Keras's categorical cross-entropy on softmax outputs: probabilities clipped to
// [1e-7, 1 - 1e-7], -log of the true class, averaged over the batch.
// A dropout mask in place: each element `1 / keep` with probability `keep`, else 0,
// from a counter-based stream that `seed` fixes.
void FillDropoutMask(float* mask, int64_t n, uint64_t seed, double keep);

torch::Tensor KerasCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_MODEL_H_
