#include "worker/trainer/optim.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::trainer {
namespace {

constexpr double kEps = 1e-8;
constexpr float kEpsF = 1e-8f;

// The fused kernels: one pass over a parameter, its gradient and its state, instead of
// one pass per tensor operation. Compiled for AVX-512, AVX2 and plain x86-64, chosen
// at load time by the CPU (GCC function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DEEPEVOLVE_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DEEPEVOLVE_SIMD_CLONES
#endif

DEEPEVOLVE_SIMD_CLONES void RmsPropKernel(float* __restrict p, const float* __restrict g,
                                          float* __restrict a, int64_t n, float lr) {
  for (int64_t i = 0; i < n; ++i) {
    const float ai = 0.9f * a[i] + 0.1f * g[i] * g[i];
    a[i] = ai;
    p[i] -= lr * g[i] / (std::sqrt(ai) + kEpsF);
  }
}

DEEPEVOLVE_SIMD_CLONES void AdagradKernel(float* __restrict p, const float* __restrict g,
                                          float* __restrict a, int64_t n, float lr) {
  for (int64_t i = 0; i < n; ++i) {
    const float ai = a[i] + g[i] * g[i];
    a[i] = ai;
    p[i] -= lr * g[i] / (std::sqrt(ai) + kEpsF);
  }
}

DEEPEVOLVE_SIMD_CLONES void AdadeltaKernel(float* __restrict p, const float* __restrict g,
                                           float* __restrict a, float* __restrict d, int64_t n,
                                           float lr) {
  constexpr float rho = 0.95f;
  for (int64_t i = 0; i < n; ++i) {
    const float ai = rho * a[i] + (1 - rho) * g[i] * g[i];
    const float u = g[i] * std::sqrt(d[i] + kEpsF) / std::sqrt(ai + kEpsF);
    a[i] = ai;
    p[i] -= lr * u;
    d[i] = rho * d[i] + (1 - rho) * u * u;
  }
}

DEEPEVOLVE_SIMD_CLONES void AdamKernel(float* __restrict p, const float* __restrict g,
                                       float* __restrict m, float* __restrict v, int64_t n,
                                       float lr_t) {
  for (int64_t i = 0; i < n; ++i) {
    const float mi = 0.9f * m[i] + 0.1f * g[i];
    const float vi = 0.999f * v[i] + 0.001f * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr_t * mi / (std::sqrt(vi) + kEpsF);
  }
}

DEEPEVOLVE_SIMD_CLONES void AdamaxKernel(float* __restrict p, const float* __restrict g,
                                         float* __restrict m, float* __restrict u, int64_t n,
                                         float lr_t) {
  for (int64_t i = 0; i < n; ++i) {
    const float mi = 0.9f * m[i] + 0.1f * g[i];
    const float ui = std::max(0.999f * u[i], std::fabs(g[i]));
    m[i] = mi;
    u[i] = ui;
    p[i] -= lr_t * mi / (ui + kEpsF);
  }
}

DEEPEVOLVE_SIMD_CLONES void NadamKernel(float* __restrict p, const float* __restrict g,
                                        float* __restrict m, float* __restrict v, int64_t n,
                                        float g_scale, float m_scale, float v_scale, float lr) {
  for (int64_t i = 0; i < n; ++i) {
    const float mi = 0.9f * m[i] + 0.1f * g[i];
    const float vi = 0.999f * v[i] + 0.001f * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    const float m_bar = g[i] * g_scale + mi * m_scale;
    p[i] -= lr * m_bar / (std::sqrt(vi * v_scale) + kEpsF);
  }
}

// Whether a parameter can take the fused path: float32 in contiguous CPU memory, with a
// gradient and state alike.
bool Fusable(const torch::Tensor& p, const torch::Tensor& g,
             const std::vector<torch::Tensor>& state) {
  auto ok = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat && t.is_contiguous();
  };
  if (!ok(p) || !ok(g) || g.numel() != p.numel()) return false;
  return std::all_of(state.begin(), state.end(), ok);
}

// Runs `kernel(offset, count)` over [0, n) in chunks on LibTorch's intra-op threads.
template <typename Kernel>
void Chunked(int64_t n, Kernel kernel) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) { kernel(begin, end - begin); });
}

// The parameters that take the multi-tensor path in one step, with their gradients
// and each state slot, as lists for torch._foreach_* operations.
struct Lists {
  std::vector<torch::Tensor> p, g;
  std::vector<std::vector<torch::Tensor>> s;  // s[slot][i]
};

// Per-parameter state tensors, created zero on first use. Step() takes the fused path
// for each parameter that allows it; the others (CUDA, float64, strided) go together
// through the multi-tensor path, or one by one through tensor operations (kTensorOps).
class WithState : public KerasOptimizer {
 protected:
  WithState(std::vector<torch::Tensor> params, int slots, bool fused, double lr)
      : KerasOptimizer(std::move(params), lr), slots_(slots), fused_(fused) {
    state_.resize(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      for (int s = 0; s < slots; ++s) state_[i].push_back(torch::zeros_like(params_[i]));
    }
  }
  // `update(p, g, state)` with tensor operations; `kernel(p, g, state, offset, count)`
  // on raw floats; `lists(lists)` with multi-tensor operations.
  template <typename Update, typename Kernel, typename ListUpdate>
  void ForEach(Update update, Kernel kernel, ListUpdate lists) {
    torch::NoGradGuard no_grad;
    Lists rest;
    rest.s.resize(slots_);
    for (size_t i = 0; i < params_.size(); ++i) {
      torch::Tensor& p = params_[i];
      const torch::Tensor& g = p.grad();
      if (!g.defined()) continue;
      if (fused_ && Fusable(p, g, state_[i])) {
        float* pd = p.data_ptr<float>();
        const float* gd = g.data_ptr<float>();
        std::vector<float*> sd;
        for (torch::Tensor& s : state_[i]) sd.push_back(s.data_ptr<float>());
        Chunked(p.numel(), [&](int64_t offset, int64_t count) {
          kernel(pd + offset, gd + offset, sd, offset, count);
        });
        ++fused_updates_;
      } else if (fused_) {
        rest.p.push_back(p);
        rest.g.push_back(g);
        for (int s = 0; s < slots_; ++s) rest.s[s].push_back(state_[i][s]);
      } else {
        update(p, g, state_[i]);
      }
    }
    if (!rest.p.empty()) {
      lists(rest);
      multi_tensor_updates_ += static_cast<int64_t>(rest.p.size());
    }
  }
  State SaveState() const override {
    State out;
    for (const auto& slots : state_) {
      for (const torch::Tensor& s : slots) out.tensors.push_back(s.clone());
    }
    out.numbers.push_back(static_cast<double>(t_));
    return out;
  }
  absl::Status LoadState(const State& in) override {
    size_t k = 0;
    for (const auto& slots : state_) k += slots.size();
    if (in.tensors.size() != k || in.numbers.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the optimizer's state holds ", in.tensors.size(), " tensors and ",
                       in.numbers.size(), " numbers, not ", k, " and 1 or more"));
    }
    k = 0;
    torch::NoGradGuard no_grad;
    for (auto& slots : state_) {
      for (torch::Tensor& s : slots) {
        const torch::Tensor& from = in.tensors[k++];
        if (!from.sizes().equals(s.sizes()) || from.scalar_type() != s.scalar_type()) {
          return absl::InvalidArgumentError("the optimizer's state does not fit the parameters");
        }
        s.copy_(from);
      }
    }
    t_ = static_cast<int64_t>(in.numbers[0]);
    return absl::OkStatus();
  }

  std::vector<std::vector<torch::Tensor>> state_;
  int64_t t_ = 0;
  const int slots_;
  const bool fused_;
};

// sqrt(x) + eps for each tensor of `x`, as new tensors.
std::vector<torch::Tensor> SqrtPlusEps(const std::vector<torch::Tensor>& x) {
  std::vector<torch::Tensor> d = at::_foreach_sqrt(x);
  at::_foreach_add_(d, kEps);
  return d;
}

class Sgd : public WithState {
 public:
  Sgd(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 0, fused, lr) {}
  void Update() override {
    // One pass already.
    ForEach([&](torch::Tensor& p, const torch::Tensor& g, auto&) { p.add_(g, -lr_); },
            [&](float* p, const float* g, auto&, int64_t /*offset*/, int64_t n) {
              for (int64_t i = 0; i < n; ++i) p[i] -= lr_f_ * g[i];
            },
            [&](Lists& l) { at::_foreach_add_(l.p, l.g, -lr_); });
  }
};

class RmsProp : public WithState {
 public:
  RmsProp(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 1, fused, lr) {}
  void Update() override {
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].mul_(0.9).addcmul_(g, g, 0.1);
          p.addcdiv_(g, s[0].sqrt().add_(kEps), -lr_);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          RmsPropKernel(p, g, s[0] + offset, n, lr_f_);
        },
        [&](Lists& l) {
          at::_foreach_mul_(l.s[0], 0.9);
          at::_foreach_addcmul_(l.s[0], l.g, l.g, 0.1);
          at::_foreach_addcdiv_(l.p, l.g, SqrtPlusEps(l.s[0]), -lr_);
        });
  }
};

class Adagrad : public WithState {
 public:
  Adagrad(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 1, fused, lr) {}
  void Update() override {
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].addcmul_(g, g);
          p.addcdiv_(g, s[0].sqrt().add_(kEps), -lr_);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          AdagradKernel(p, g, s[0] + offset, n, lr_f_);
        },
        [&](Lists& l) {
          at::_foreach_addcmul_(l.s[0], l.g, l.g);
          at::_foreach_addcdiv_(l.p, l.g, SqrtPlusEps(l.s[0]), -lr_);
        });
  }
};

class Adadelta : public WithState {
 public:
  Adadelta(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 2, fused, lr) {}
  void Update() override {
    constexpr double rho = 0.95;
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].mul_(rho).addcmul_(g, g, 1 - rho);
          torch::Tensor update = g * (s[1] + kEps).sqrt_() / (s[0] + kEps).sqrt_();
          p.add_(update, -lr_);
          s[1].mul_(rho).addcmul_(update, update, 1 - rho);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          AdadeltaKernel(p, g, s[0] + offset, s[1] + offset, n, lr_f_);
        },
        [&](Lists& l) {
          at::_foreach_mul_(l.s[0], rho);
          at::_foreach_addcmul_(l.s[0], l.g, l.g, 1 - rho);
          std::vector<torch::Tensor> delta = at::_foreach_add(l.s[1], kEps);
          at::_foreach_sqrt_(delta);
          std::vector<torch::Tensor> accumulated = at::_foreach_add(l.s[0], kEps);
          at::_foreach_sqrt_(accumulated);
          std::vector<torch::Tensor> update = at::_foreach_mul(l.g, delta);
          at::_foreach_div_(update, accumulated);
          at::_foreach_add_(l.p, update, -lr_);
          at::_foreach_mul_(l.s[1], rho);
          at::_foreach_addcmul_(l.s[1], update, update, 1 - rho);
        });
  }
};

class Adam : public WithState {
 public:
  Adam(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 2, fused, lr) {}
  void Update() override {
    ++t_;
    const double lr_t = lr_ * std::sqrt(1 - std::pow(0.999, t_)) / (1 - std::pow(0.9, t_));
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].mul_(0.9).add_(g, 0.1);
          s[1].mul_(0.999).addcmul_(g, g, 0.001);
          p.addcdiv_(s[0], s[1].sqrt().add_(kEps), -lr_t);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          AdamKernel(p, g, s[0] + offset, s[1] + offset, n, static_cast<float>(lr_t));
        },
        [&](Lists& l) {
          at::_foreach_mul_(l.s[0], 0.9);
          at::_foreach_add_(l.s[0], l.g, 0.1);
          at::_foreach_mul_(l.s[1], 0.999);
          at::_foreach_addcmul_(l.s[1], l.g, l.g, 0.001);
          at::_foreach_addcdiv_(l.p, l.s[0], SqrtPlusEps(l.s[1]), -lr_t);
        });
  }
};

class Adamax : public WithState {
 public:
  Adamax(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 2, fused, lr) {}
  void Update() override {
    ++t_;
    const double lr_t = lr_ / (1 - std::pow(0.9, t_));
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].mul_(0.9).add_(g, 0.1);
          torch::maximum_out(s[1], s[1] * 0.999, g.abs());
          p.addcdiv_(s[0], s[1] + kEps, -lr_t);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          AdamaxKernel(p, g, s[0] + offset, s[1] + offset, n, static_cast<float>(lr_t));
        },
        [&](Lists& l) {
          at::_foreach_mul_(l.s[0], 0.9);
          at::_foreach_add_(l.s[0], l.g, 0.1);
          at::_foreach_mul_(l.s[1], 0.999);
          at::_foreach_maximum_(l.s[1], at::_foreach_abs(l.g));
          at::_foreach_addcdiv_(l.p, l.s[0], at::_foreach_add(l.s[1], kEps), -lr_t);
        });
  }
};

class Nadam : public WithState {
 public:
  Nadam(std::vector<torch::Tensor> p, bool fused, double lr)
      : WithState(std::move(p), 2, fused, lr) {}
  State SaveState() const override {
    State out = WithState::SaveState();
    out.numbers.push_back(m_schedule_);
    return out;
  }
  absl::Status LoadState(const State& in) override {
    if (in.numbers.size() != 2) {
      return absl::InvalidArgumentError("nadam's state needs its step count and its schedule");
    }
    m_schedule_ = in.numbers[1];
    return WithState::LoadState(in);
  }
  void Update() override {
    ++t_;
    constexpr double b1 = 0.9, b2 = 0.999, decay = 0.004;
    const double mc_t = b1 * (1 - 0.5 * std::pow(0.96, t_ * decay));
    const double mc_t1 = b1 * (1 - 0.5 * std::pow(0.96, (t_ + 1) * decay));
    const double m_schedule_new = m_schedule_ * mc_t;
    const double m_schedule_next = m_schedule_ * mc_t * mc_t1;
    m_schedule_ = m_schedule_new;
    const double v_correction = 1 - std::pow(b2, t_);
    const double g_scale = (1 - mc_t) / (1 - m_schedule_new);
    const double m_scale = mc_t1 / (1 - m_schedule_next);
    ForEach(
        [&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
          s[0].mul_(b1).add_(g, 1 - b1);
          s[1].mul_(b2).addcmul_(g, g, 1 - b2);
          torch::Tensor m_bar = g * g_scale + s[0] * m_scale;
          p.addcdiv_(m_bar, (s[1] / v_correction).sqrt_().add_(kEps), -lr_);
        },
        [&](float* p, const float* g, auto& s, int64_t offset, int64_t n) {
          NadamKernel(p, g, s[0] + offset, s[1] + offset, n, static_cast<float>(g_scale),
                      static_cast<float>(m_scale), static_cast<float>(1 / v_correction), lr_f_);
        },
        [&](Lists& l) {
          at::_foreach_mul_(l.s[0], b1);
          at::_foreach_add_(l.s[0], l.g, 1 - b1);
          at::_foreach_mul_(l.s[1], b2);
          at::_foreach_addcmul_(l.s[1], l.g, l.g, 1 - b2);
          std::vector<torch::Tensor> m_bar = at::_foreach_mul(l.g, g_scale);
          at::_foreach_add_(m_bar, l.s[0], m_scale);
          std::vector<torch::Tensor> denominator = at::_foreach_div(l.s[1], v_correction);
          at::_foreach_sqrt_(denominator);
          at::_foreach_add_(denominator, kEps);
          at::_foreach_addcdiv_(l.p, m_bar, denominator, -lr_);
        });
  }

 private:
  double m_schedule_ = 1.0;
};

}  // namespace

void KerasOptimizer::Step() {
  if (weight_decay_ > 0) {
    torch::NoGradGuard no_grad;
    const double keep = 1 - lr_ * weight_decay_;
    // One multi-tensor operation for the decayed parameters off the CPU (one launch).
    std::vector<torch::Tensor> elsewhere;
    for (auto& p : params_) {
      if (p.dim() < 2 || !p.grad().defined()) continue;
      if (p.device().is_cpu()) {
        p.mul_(keep);
      } else {
        elsewhere.push_back(p);
      }
    }
    if (!elsewhere.empty()) at::_foreach_mul_(elsewhere, keep);
  }
  Update();
}

absl::Status KerasOptimizer::LoadState(const State& state) {
  if (!state.tensors.empty()) {
    return absl::InvalidArgumentError("this optimizer keeps no state, and the checkpoint has some");
  }
  return absl::OkStatus();
}

void KerasOptimizer::ZeroGrad() {
  // Dropping the gradients (rather than zeroing them) lets backward hand its result
  // over as the new gradient: no pass to zero and no pass to add.
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
}

absl::StatusOr<std::unique_ptr<KerasOptimizer>> MakeOptimizer(const std::string& name,
                                                              std::vector<torch::Tensor> params,
                                                              OptimizerPath path,
                                                              std::optional<double> learning_rate) {
  const bool fused = path == OptimizerPath::kFused;
  auto make = [&](auto* type, double keras_lr) -> std::unique_ptr<KerasOptimizer> {
    using T = std::remove_pointer_t<decltype(type)>;
    return std::make_unique<T>(std::move(params), fused, learning_rate.value_or(keras_lr));
  };
  if (name == "sgd") return make(static_cast<Sgd*>(nullptr), 0.01);
  if (name == "rmsprop") return make(static_cast<RmsProp*>(nullptr), 0.001);
  if (name == "adagrad") return make(static_cast<Adagrad*>(nullptr), 0.01);
  if (name == "adadelta") return make(static_cast<Adadelta*>(nullptr), 1.0);
  if (name == "adam") return make(static_cast<Adam*>(nullptr), 0.001);
  if (name == "adamax") return make(static_cast<Adamax*>(nullptr), 0.002);
  if (name == "nadam") return make(static_cast<Nadam*>(nullptr), 0.002);
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer '", name, "'"));
}

}  // namespace deepevolve::trainer
