#include "worker/trainer/optim.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::trainer {
namespace {

constexpr double kEps = 1e-8;

// Per-parameter state tensors, created zero on first use.
class WithState : public KerasOptimizer {
 protected:
  WithState(std::vector<torch::Tensor> params, int slots) : KerasOptimizer(std::move(params)) {
    state_.resize(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      for (int s = 0; s < slots; ++s) state_[i].push_back(torch::zeros_like(params_[i]));
    }
  }
  template <typename F>
  void ForEach(F update) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      const torch::Tensor& g = params_[i].grad();
      if (!g.defined()) continue;
      update(params_[i], g, state_[i]);
    }
  }
  std::vector<std::vector<torch::Tensor>> state_;
  int64_t t_ = 0;
};

class Sgd : public WithState {
 public:
  explicit Sgd(std::vector<torch::Tensor> p) : WithState(std::move(p), 0) {}
  void Step() override {
    ForEach([](torch::Tensor& p, const torch::Tensor& g, auto&) { p.add_(g, -0.01); });
  }
};

class RmsProp : public WithState {
 public:
  explicit RmsProp(std::vector<torch::Tensor> p) : WithState(std::move(p), 1) {}
  void Step() override {
    ForEach([](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      s[0].mul_(0.9).addcmul_(g, g, 0.1);
      p.addcdiv_(g, s[0].sqrt().add_(kEps), -0.001);
    });
  }
};

class Adagrad : public WithState {
 public:
  explicit Adagrad(std::vector<torch::Tensor> p) : WithState(std::move(p), 1) {}
  void Step() override {
    ForEach([](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      s[0].addcmul_(g, g);
      p.addcdiv_(g, s[0].sqrt().add_(kEps), -0.01);
    });
  }
};

class Adadelta : public WithState {
 public:
  explicit Adadelta(std::vector<torch::Tensor> p) : WithState(std::move(p), 2) {}
  void Step() override {
    ForEach([](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      constexpr double rho = 0.95;
      s[0].mul_(rho).addcmul_(g, g, 1 - rho);
      torch::Tensor update = g * (s[1] + kEps).sqrt_() / (s[0] + kEps).sqrt_();
      p.add_(update, -1.0);
      s[1].mul_(rho).addcmul_(update, update, 1 - rho);
    });
  }
};

class Adam : public WithState {
 public:
  explicit Adam(std::vector<torch::Tensor> p) : WithState(std::move(p), 2) {}
  void Step() override {
    ++t_;
    const double lr_t =
        0.001 * std::sqrt(1 - std::pow(0.999, t_)) / (1 - std::pow(0.9, t_));
    ForEach([&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      s[0].mul_(0.9).add_(g, 0.1);
      s[1].mul_(0.999).addcmul_(g, g, 0.001);
      p.addcdiv_(s[0], s[1].sqrt().add_(kEps), -lr_t);
    });
  }
};

class Adamax : public WithState {
 public:
  explicit Adamax(std::vector<torch::Tensor> p) : WithState(std::move(p), 2) {}
  void Step() override {
    ++t_;
    const double lr_t = 0.002 / (1 - std::pow(0.9, t_));
    ForEach([&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      s[0].mul_(0.9).add_(g, 0.1);
      torch::maximum_out(s[1], s[1] * 0.999, g.abs());
      p.addcdiv_(s[0], s[1] + kEps, -lr_t);
    });
  }
};

class Nadam : public WithState {
 public:
  explicit Nadam(std::vector<torch::Tensor> p) : WithState(std::move(p), 2) {}
  void Step() override {
    ++t_;
    constexpr double b1 = 0.9, b2 = 0.999, decay = 0.004;
    const double mc_t = b1 * (1 - 0.5 * std::pow(0.96, t_ * decay));
    const double mc_t1 = b1 * (1 - 0.5 * std::pow(0.96, (t_ + 1) * decay));
    const double m_schedule_new = m_schedule_ * mc_t;
    const double m_schedule_next = m_schedule_ * mc_t * mc_t1;
    m_schedule_ = m_schedule_new;
    const double v_correction = 1 - std::pow(b2, t_);
    ForEach([&](torch::Tensor& p, const torch::Tensor& g, auto& s) {
      s[0].mul_(b1).add_(g, 1 - b1);
      s[1].mul_(b2).addcmul_(g, g, 1 - b2);
      torch::Tensor m_bar = g * ((1 - mc_t) / (1 - m_schedule_new)) +
                            s[0] * (mc_t1 / (1 - m_schedule_next));
      p.addcdiv_(m_bar, (s[1] / v_correction).sqrt_().add_(kEps), -0.002);
    });
  }

 private:
  double m_schedule_ = 1.0;
};

}  // namespace

void KerasOptimizer::ZeroGrad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.grad().zero_();
  }
}

absl::StatusOr<std::unique_ptr<KerasOptimizer>> MakeOptimizer(const std::string& name,
                                                              std::vector<torch::Tensor> params) {
  if (name == "sgd") return std::make_unique<Sgd>(std::move(params));
  if (name == "rmsprop") return std::make_unique<RmsProp>(std::move(params));
  if (name == "adagrad") return std::make_unique<Adagrad>(std::move(params));
  if (name == "adadelta") return std::make_unique<Adadelta>(std::move(params));
  if (name == "adam") return std::make_unique<Adam>(std::move(params));
  if (name == "adamax") return std::make_unique<Adamax>(std::move(params));
  if (name == "nadam") return std::make_unique<Nadam>(std::move(params));
  return absl::InvalidArgumentError(absl::StrCat("unknown optimizer '", name, "'"));
}

}  // namespace deepevolve::trainer
