#include "worker/trainer/model.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "genome/network.h"

namespace deepevolve::trainer {
namespace {

using genome::ConvOutput;

// Batch normalisation with Keras's epsilon 1e-3, but running statistics that move 0.1
// of the way each step (LibTorch's default; Keras's momentum 0.99 is 0.01): after the
// few hundred steps of a search's short trainings Keras's are still far from the data,
// and evaluation with them is near chance (measured: 21 % after 2 epochs of 2 400
// Fashion-MNIST images).
template <typename Options>
Options KerasNorm(int64_t features) {
  return Options(features).momentum(0.1).eps(1e-3);
}

// Keras's glorot_uniform: U(+-sqrt(6 / (fan_in + fan_out))), fans including the
// receptive field for convolutions; biases zero.
void GlorotUniformZeroBias(torch::nn::Module& m, const MaybeGenerator& generator) {
  for (auto& p : m.named_parameters(/*recurse=*/false)) {
    torch::NoGradGuard no_grad;
    torch::Tensor w = p.value();
    if (p.key() == "weight") {
      const int64_t receptive = w.dim() > 2 ? w[0][0].numel() : 1;
      const double fan_in = static_cast<double>(w.size(1) * receptive);
      const double fan_out = static_cast<double>(w.size(0) * receptive);
      const double bound = std::sqrt(6.0 / (fan_in + fan_out));
      w.uniform_(-bound, bound, generator);
    } else {
      p.value().zero_();
    }
  }
}

}  // namespace

absl::StatusOr<torch::Tensor> Activate(const std::string& name, const torch::Tensor& x) {
  if (name == "relu") return torch::relu(x);
  if (name == "elu") return torch::elu(x, 1.0);
  if (name == "tanh") return torch::tanh(x);
  if (name == "sigmoid") return torch::sigmoid(x);
  if (name == "hard_sigmoid") return torch::clamp(x * 0.2 + 0.5, 0.0, 1.0);
  if (name == "softplus") return torch::softplus(x);
  if (name == "linear") return x;
  return absl::InvalidArgumentError(absl::StrCat("unknown activation '", name, "'"));
}

absl::Status CheckShapes(const NetConfig& c) {
  if (c.widths.empty() || c.dense_units < 1 ||
      std::any_of(c.widths.begin(), c.widths.end(), [](int64_t w) { return w < 1; })) {
    return absl::InvalidArgumentError("nb_layers and every width must be at least 1");
  }
  if (!Activate(c.activation, torch::zeros({1})).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown activation '", c.activation, "'"));
  }
  // ConvOutput also refuses a CNN on data that is not images.
  if (c.kind == v1::CNN) return ConvOutput(c).status();
  return absl::OkStatus();
}

int64_t ExpectedParameterCount(const NetConfig& c) { return genome::ParameterCount(c); }

KerasNetImpl::KerasNetImpl(const NetConfig& config, MaybeGenerator generator)
    : config_(config), generator_(std::move(generator)) {
  int64_t in = 0;
  if (config.kind == v1::CNN) {
    int64_t channels = config.input_shape[0];
    const int64_t k = config.kernel_size;
    for (size_t i = 0; i < config.widths.size(); ++i) {
      const int64_t f = config.widths[i];
      auto conv = torch::nn::Conv2d(
          torch::nn::Conv2dOptions(channels, f, k).padding(i == 0 ? k / 2 : 0).bias(true));
      convs_.push_back(register_module(absl::StrCat("conv", i), conv));
      GlorotUniformZeroBias(*conv, generator_);
      if (config.batch_norm) {
        conv_norms_.push_back(
            register_module(absl::StrCat("conv_norm", i),
                            torch::nn::BatchNorm2d(KerasNorm<torch::nn::BatchNorm2dOptions>(f))));
      }
      channels = f;
    }
    auto hw = ConvOutput(config);
    const int64_t flat = hw.ok() ? channels * hw->first * hw->second : channels;
    dense_.push_back(register_module("dense0", torch::nn::Linear(flat, config.dense_units)));
    in = config.dense_units;
  } else {
    in = 1;
    for (int64_t d : config.input_shape) in *= d;
    for (size_t i = 0; i < config.widths.size(); ++i) {
      dense_.push_back(
          register_module(absl::StrCat("dense", i), torch::nn::Linear(in, config.widths[i])));
      in = config.widths[i];
    }
  }
  if (config.batch_norm) {
    for (size_t i = 0; i < dense_.size(); ++i) {
      dense_norms_.push_back(register_module(
          absl::StrCat("dense_norm", i),
          torch::nn::BatchNorm1d(
              KerasNorm<torch::nn::BatchNorm1dOptions>(dense_[i]->options.out_features()))));
    }
  }
  for (auto& d : dense_) GlorotUniformZeroBias(*d, generator_);
  head_ = register_module("head", torch::nn::Linear(in, config.num_classes));
  GlorotUniformZeroBias(*head_, generator_);
}

torch::Tensor KerasNetImpl::forward(torch::Tensor x) {
  const std::string& act = config_.activation;
  // CheckShapes has vetted the activation name.
  auto activate = [&](const torch::Tensor& t) { return *Activate(act, t); };
  if (config_.kind == v1::CNN) {
    for (size_t i = 0; i < convs_.size(); ++i) {
      x = convs_[i]->forward(x);
      if (!conv_norms_.empty()) x = conv_norms_[i]->forward(x);
      x = activate(x);
      if (i < 2)
        x = config_.pooling == "average" ? torch::avg_pool2d(x, 2) : torch::max_pool2d(x, 2);
      x = Dropout(x, config_.dropout);
    }
    x = dense_[0]->forward(x.flatten(1));
    if (!dense_norms_.empty()) x = dense_norms_[0]->forward(x);
    x = Dropout(activate(x), 0.5);
  } else {
    x = x.flatten(1);
    for (size_t i = 0; i < dense_.size(); ++i) {
      x = dense_[i]->forward(x);
      if (!dense_norms_.empty()) x = dense_norms_[i]->forward(x);
      x = Dropout(activate(x), config_.dropout);
    }
  }
  return head_->forward(x);
}

// Inverted dropout, active only in training, drawing from this net's generator.
torch::Tensor KerasNetImpl::Dropout(const torch::Tensor& x, double rate) {
  if (!is_training() || rate == 0) return x;
  if (!x.device().is_cpu()) {
    // One fused kernel (mask and scale) drawing from the device's generator, which the
    // trainer seeds from the trial's seed.
    return torch::dropout(x, rate, /*train=*/true);
  }
  // On the CPU one draw from the generator seeds a counter-based stream for the whole
  // mask (SplitMix64 of seed + index): reproducible from the trial's seed like the
  // generator itself, and one cheap pass where bernoulli_ calls the generator once
  // per element.
  uint64_t seed;
  {
    at::Generator gen = generator_.has_value() ? *generator_ : at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
  }
  torch::Tensor mask = torch::empty(
      x.sizes(), x.options().dtype(torch::kFloat).memory_format(torch::MemoryFormat::Contiguous));
  FillDropoutMask(mask.data_ptr<float>(), mask.numel(), seed, 1 - rate);
  return x * (x.scalar_type() == torch::kFloat ? mask : mask.to(x.scalar_type()));
}

namespace {

// Compiled for AVX-512 (64-bit multiplies in vectors), AVX2 and plain x86-64, chosen
// at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=skylake-avx512", "avx2", "default")))
#endif
void DropoutMaskKernel(float* __restrict mask, int64_t begin, int64_t end, uint64_t seed,
                       uint64_t threshold, float scale) {
  for (int64_t i = begin; i < end; ++i) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    mask[i] = (z >> 40) < threshold ? scale : 0.0f;
  }
}

}  // namespace

void FillDropoutMask(float* mask, int64_t n, uint64_t seed, double keep) {
  // Keep when the top 24 bits of the draw fall below keep x 2^24.
  const uint64_t threshold = static_cast<uint64_t>(keep * 16777216.0);
  const float scale = static_cast<float>(1 / keep);
  at::parallel_for(0, n, 1 << 14, [&](int64_t begin, int64_t end) {
    DropoutMaskKernel(mask, begin, end, seed, threshold, scale);
  });
}

torch::Tensor Augment(const torch::Tensor& x, const std::string& augmentation,
                      const MaybeGenerator& generator) {
  if (augmentation == "none" || x.dim() != 4) return x;
  torch::NoGradGuard no_grad;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  auto ints = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor flip = torch::randint(0, 2, {n}, generator, ints).to(x.device()).to(torch::kBool);
  torch::Tensor out = torch::where(flip.view({n, 1, 1, 1}), x.flip(3), x);
  if (augmentation != "crop_flip") return out;
  const int64_t pad = w <= 28 ? 2 : 4;
  torch::Tensor padded = torch::constant_pad_nd(out, {pad, pad, pad, pad}, 0);
  // Each image's window: rows dy .. dy + h, columns dx .. dx + w of the padded image.
  torch::Tensor dy = torch::randint(0, 2 * pad + 1, {n}, generator, ints).to(x.device());
  torch::Tensor dx = torch::randint(0, 2 * pad + 1, {n}, generator, ints).to(x.device());
  torch::Tensor rows = (dy.view({n, 1}) + torch::arange(h, ints.device(x.device())).view({1, h}))
                           .view({n, 1, h, 1})
                           .expand({n, x.size(1), h, w + 2 * pad});
  torch::Tensor cols = (dx.view({n, 1}) + torch::arange(w, ints.device(x.device())).view({1, w}))
                           .view({n, 1, 1, w})
                           .expand({n, x.size(1), h, w});
  return padded.gather(2, rows).gather(3, cols);
}

double ScheduledRate(const std::string& schedule, double base, int epoch, int epochs) {
  if (schedule == "cosine") {
    return base * (1 + std::cos(M_PI * (epoch - 1) / std::max(epochs, 1))) / 2;
  }
  if (schedule == "step") {
    if (epoch > 3 * epochs / 4) return base * 0.01;
    if (epoch > epochs / 2) return base * 0.1;
  }
  return base;
}

torch::Tensor KerasCrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor p = torch::softmax(logits, 1).gather(1, labels.unsqueeze(1));
  return -torch::log(p.clamp(1e-7, 1 - 1e-7)).mean();
}

std::vector<torch::Tensor> ModelState(KerasNet& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const torch::Tensor& p : model->parameters()) state.push_back(p.detach().clone());
  for (const torch::Tensor& b : model->buffers()) state.push_back(b.detach().clone());
  return state;
}

void RestoreModelState(KerasNet& model, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (torch::Tensor& p : model->parameters()) p.copy_(state[i++]);
  for (torch::Tensor& b : model->buffers()) b.copy_(state[i++]);
}

Evaluation Evaluate(KerasNet& model, const Split& split, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  model->eval();
  double loss = 0;
  int64_t correct = 0;
  const int64_t n = split.size();
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    torch::Tensor x = split.x.slice(0, b, e).to(device);
    torch::Tensor y = split.y.slice(0, b, e).to(device);
    torch::Tensor logits = model->forward(x);
    loss += KerasCrossEntropy(logits, y).item<double>() * static_cast<double>(e - b);
    // argmax takes the first maximum, as Keras's categorical accuracy.
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
  }
  model->train();
  return {loss / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n)};
}

int64_t ParameterCount(KerasNet& model) {
  int64_t n = 0;
  for (const torch::Tensor& p : model->parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

int64_t StateBytes(KerasNet& model) {
  int64_t bytes = 0;
  for (const torch::Tensor& p : model->parameters()) bytes += p.numel() * p.element_size();
  for (const torch::Tensor& b : model->buffers()) bytes += b.numel() * b.element_size();
  return bytes;
}

double MedianLatencyMs(KerasNet& model, const Split& split, const torch::Device& device,
                       int64_t batch, int runs) {
  torch::NoGradGuard no_grad;
  model->eval();
  const torch::Tensor x = split.x.slice(0, 0, std::min(batch, split.size())).to(device);
  std::vector<double> ms;
  for (int i = -3; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    // Reading a value back waits for the device.
    (void)model->forward(x).sum().item<float>();
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    if (i >= 0) ms.push_back(took.count());
  }
  model->train();
  std::nth_element(ms.begin(), ms.begin() + static_cast<long>(ms.size() / 2), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace deepevolve::trainer
