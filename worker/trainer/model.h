// The Keras-style networks DeepEvolve builds from a genome, in LibTorch.
#ifndef DEEPEVOLVE_WORKER_TRAINER_MODEL_H_
#define DEEPEVOLVE_WORKER_TRAINER_MODEL_H_

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"
#include "genome/network.h"
#include "worker/trainer/data.h"

namespace deepevolve::trainer {

// The network a genome describes (genome/network.h), with every gene resolved.
using NetConfig = genome::Network;

// The random source of one trainer (weights, dropout masks), so trainers sharing a
// process stay reproducible. Empty: torch's default generator (CUDA).
using MaybeGenerator = c10::optional<at::Generator>;

// Keras activations by name; hard_sigmoid is Keras's clip(0.2 x + 0.5, 0, 1).
absl::StatusOr<torch::Tensor> Activate(const std::string& name, const torch::Tensor& x);

// The MLP: for each layer i, Dense(widths[i]), [BatchNorm], activation,
// Dropout(dropout); then Dense(classes).
// The CNN: for each block i, Conv2D(widths[i], kernel_size, 'same' padding for i = 0
// only, 'valid' after), [BatchNorm], activation, 2x2 max or average pooling for i < 2,
// Dropout(dropout); then Flatten, Dense(dense_units), [BatchNorm], activation,
// Dropout(0.5), Dense(classes). Outputs logits (the softmax is in the loss). Weights
// glorot-uniform, biases zero; batch normalisation with Keras's epsilon 1e-3 and
// LibTorch's momentum 0.1 (model.cc says why). With DeepEvolve's genes only (all widths nb_neurons,
// kernel 3, max pooling, no batch normalisation) these are DeepEvolve's networks.
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
  std::vector<torch::nn::BatchNorm2d> conv_norms_;
  std::vector<torch::nn::Linear> dense_;
  std::vector<torch::nn::BatchNorm1d> dense_norms_;
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(KerasNet);

// Checks that the genome makes a network before anything is built: INVALID_ARGUMENT
// saying which layer collapses (a 5-layer CNN on 28x28, which crashed DeepEvolve).
absl::Status CheckShapes(const NetConfig& config);

// The number of trainable parameters the formulas of the reference give.
int64_t ExpectedParameterCount(const NetConfig& config);

// The augmentation gene on a training batch of images [N, C, H, W]: "flip" mirrors
// each image left to right with probability 1/2; "crop_flip" also shifts it by up to
// `pad` pixels each way (2 for images up to 28 wide, else 4), filling with zeros.
// "none" returns `x`. Draws from `generator`; labels are untouched.
torch::Tensor Augment(const torch::Tensor& x, const std::string& augmentation,
                      const MaybeGenerator& generator);

// The learning rate of 1-based `epoch` of `epochs` under the lr_schedule gene:
// "constant" `base`; "cosine" base x (1 + cos(pi (epoch - 1) / epochs)) / 2; "step"
// base, x0.1 from epoch floor(epochs / 2) + 1 and x0.01 from floor(3 epochs / 4) + 1.
double ScheduledRate(const std::string& schedule, double base, int epoch, int epochs);

// A dropout mask in place: each element `1 / keep` with probability `keep`, else 0,
// from a counter-based stream that `seed` fixes.
void FillDropoutMask(float* mask, int64_t n, uint64_t seed, double keep);

// Keras's categorical cross-entropy on softmax outputs: probabilities clipped to
// [1e-7, 1 - 1e-7], -log of the true class, averaged over the batch.
torch::Tensor KerasCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels);

// Copies of every parameter and buffer (batch-norm statistics), in the model's order,
// and putting them back.
std::vector<torch::Tensor> ModelState(KerasNet& model);
void RestoreModelState(KerasNet& model, const std::vector<torch::Tensor>& state);

// The mean loss and the accuracy of `model` on `split`, in evaluation mode (batches of
// 1024 on `device`); the model is left in training mode.
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};
Evaluation Evaluate(KerasNet& model, const Split& split, const torch::Device& device);

// The trainable parameters' count, and the bytes of the parameters and buffers as they
// are stored (float32 weights, batch-norm statistics).
int64_t ParameterCount(KerasNet& model);
int64_t StateBytes(KerasNet& model);

// The median milliseconds of one forward pass over the first `batch` examples of
// `split` on `device`, in evaluation mode without gradients, after 3 passes of warm-up;
// `runs` passes timed (each waits for its output, so a GPU's work is counted). The
// model is left in training mode.
double MedianLatencyMs(KerasNet& model, const Split& split, const torch::Device& device,
                       int64_t batch, int runs = 15);

}  // namespace deepevolve::trainer

#endif  // DEEPEVOLVE_WORKER_TRAINER_MODEL_H_
