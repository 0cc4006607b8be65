#include "worker/trainer/optim.h"

#include <cmath>
#include <optional>

#include "gtest/gtest.h"

namespace deepevolve::trainer {
namespace {

// Two steps on one parameter p = 1 with gradient 0.5, then 0.25, computed by hand from
// Keras 2.0's update rules (keras/optimizers.py) in double precision.
std::vector<double> TwoSteps(const std::string& name) {
  torch::Tensor p = torch::ones({1}, torch::kFloat64).requires_grad_(true);
  auto opt = MakeOptimizer(name, {p});
  EXPECT_TRUE(opt.ok());
  std::vector<double> out;
  for (double g : {0.5, 0.25}) {
    p.mutable_grad() = torch::full({1}, g, torch::kFloat64);
    (*opt)->Step();
    out.push_back(p.item<double>());
  }
  return out;
}

void ExpectSteps(const std::string& name, double first, double second) {
  const auto got = TwoSteps(name);
  EXPECT_NEAR(got[0], first, 1e-12) << name << " step 1";
  EXPECT_NEAR(got[1], second, 1e-12) << name << " step 2";
}

constexpr double e = 1e-8;

TEST(KerasOptimizerTest, Sgd) { ExpectSteps("sgd", 1 - 0.01 * 0.5, 1 - 0.01 * 0.5 - 0.01 * 0.25); }

TEST(KerasOptimizerTest, RmsProp) {
  const double a1 = 0.1 * 0.25, p1 = 1 - 0.001 * 0.5 / (std::sqrt(a1) + e);
  const double a2 = 0.9 * a1 + 0.1 * 0.0625, p2 = p1 - 0.001 * 0.25 / (std::sqrt(a2) + e);
  ExpectSteps("rmsprop", p1, p2);
}

TEST(KerasOptimizerTest, Adagrad) {
  const double a1 = 0.25, p1 = 1 - 0.01 * 0.5 / (std::sqrt(a1) + e);
  const double a2 = a1 + 0.0625, p2 = p1 - 0.01 * 0.25 / (std::sqrt(a2) + e);
  ExpectSteps("adagrad", p1, p2);
}

TEST(KerasOptimizerTest, Adadelta) {
  double a = 0, d = 0, p = 1;
  std::vector<double> want;
  for (double g : {0.5, 0.25}) {
    a = 0.95 * a + 0.05 * g * g;
    const double u = g * std::sqrt(d + e) / std::sqrt(a + e);
    p -= 1.0 * u;
    d = 0.95 * d + 0.05 * u * u;
    want.push_back(p);
  }
  ExpectSteps("adadelta", want[0], want[1]);
}

TEST(KerasOptimizerTest, Adam) {
  double m = 0, v = 0, p = 1;
  std::vector<double> want;
  int t = 0;
  for (double g : {0.5, 0.25}) {
    ++t;
    const double lr_t = 0.001 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    p -= lr_t * m / (std::sqrt(v) + e);
    want.push_back(p);
  }
  ExpectSteps("adam", want[0], want[1]);
}

TEST(KerasOptimizerTest, Adamax) {
  // Step 1: lr_t = 0.002 / 0.1, m = 0.05, u = 0.5.
  const double p1 = 1 - 0.02 * 0.05 / (0.5 + e);
  const double m2 = 0.9 * 0.05 + 0.1 * 0.25, u2 = std::max(0.999 * 0.5, 0.25);
  const double p2 = p1 - 0.002 / (1 - 0.81) * m2 / (u2 + e);
  ExpectSteps("adamax", p1, p2);
}

TEST(KerasOptimizerTest, Nadam) {
  double m = 0, v = 0, p = 1, schedule = 1;
  std::vector<double> want;
  int t = 0;
  for (double g : {0.5, 0.25}) {
    ++t;
    const double mc = 0.9 * (1 - 0.5 * std::pow(0.96, t * 0.004));
    const double mc1 = 0.9 * (1 - 0.5 * std::pow(0.96, (t + 1) * 0.004));
    const double s_new = schedule * mc, s_next = schedule * mc * mc1;
    schedule = s_new;
    const double g_prime = g / (1 - s_new);
    m = 0.9 * m + 0.1 * g;
    const double m_prime = m / (1 - s_next);
    v = 0.999 * v + 0.001 * g * g;
    const double v_prime = v / (1 - std::pow(0.999, t));
    const double m_bar = (1 - mc) * g_prime + mc1 * m_prime;
    p -= 0.002 * m_bar / (std::sqrt(v_prime) + e);
    want.push_back(p);
  }
  ExpectSteps("nadam", want[0], want[1]);
}

// The fused float32 path against the tensor-operation path (itself checked against
// Keras's rules above) on random parameters and gradients, several steps, a size that
// spans several chunks and ends mid-vector: equal within float rounding.
TEST(KerasOptimizerTest, FusedStepsEqualTensorSteps) {
  for (const char* name : {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"}) {
    torch::manual_seed(3);
    const int64_t n = 100'003;
    torch::Tensor a = torch::randn({n}), b = a.clone(), start = a.clone(),
                  bias_a = torch::randn({7}), bias_b = bias_a.clone();
    auto fused = MakeOptimizer(name, {a, bias_a}, OptimizerPath::kFused);
    auto tensor = MakeOptimizer(name, {b, bias_b}, OptimizerPath::kTensorOps);
    ASSERT_TRUE(fused.ok() && tensor.ok());
    for (int step = 0; step < 5; ++step) {
      torch::Tensor g = torch::randn({n}) * (step + 1), gb = torch::randn({7});
      a.mutable_grad() = g.clone();
      b.mutable_grad() = g.clone();
      bias_a.mutable_grad() = gb.clone();
      bias_b.mutable_grad() = gb.clone();
      (*fused)->Step();
      (*tensor)->Step();
    }
    EXPECT_GT((a - start).abs().max().item<double>(), 1e-4) << name << " did not move";
    EXPECT_EQ((*fused)->fused_updates(), 10) << name;
    EXPECT_EQ((*tensor)->fused_updates(), 0) << name;
    EXPECT_TRUE(torch::allclose(a, b, /*rtol=*/1e-5, /*atol=*/1e-6)) << name;
    EXPECT_TRUE(torch::allclose(bias_a, bias_b, 1e-5, 1e-6)) << name;
  }
}

// The multi-tensor path (what CUDA and float64 parameters take by default) against the
// per-parameter tensor operations, on float64 CPU parameters (CUDA's: cuda_test.cc):
// equal to double rounding, every parameter counted.
TEST(KerasOptimizerTest, MultiTensorStepsEqualTensorSteps) {
  for (const char* name : {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"}) {
    torch::manual_seed(4);
    std::vector<torch::Tensor> a = {torch::randn({30, 20}, torch::kFloat64),
                                    torch::randn({1001}, torch::kFloat64)};
    std::vector<torch::Tensor> b = {a[0].clone(), a[1].clone()};
    const torch::Tensor start = a[1].clone();
    auto lists = MakeOptimizer(name, a, OptimizerPath::kFused);
    auto tensor = MakeOptimizer(name, b, OptimizerPath::kTensorOps);
    ASSERT_TRUE(lists.ok() && tensor.ok());
    (*lists)->set_weight_decay(0.02);
    (*tensor)->set_weight_decay(0.02);
    for (int step = 0; step < 5; ++step) {
      for (size_t i = 0; i < a.size(); ++i) {
        torch::Tensor g = torch::randn(a[i].sizes(), torch::kFloat64) * (step + 1);
        a[i].mutable_grad() = g.clone();
        b[i].mutable_grad() = g.clone();
      }
      (*lists)->Step();
      (*tensor)->Step();
    }
    EXPECT_GT((a[1] - start).abs().max().item<double>(), 1e-4) << name << " did not move";
    EXPECT_EQ((*lists)->multi_tensor_updates(), 10) << name;
    EXPECT_EQ((*lists)->fused_updates(), 0) << name;
    EXPECT_EQ((*tensor)->multi_tensor_updates(), 0) << name;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], /*rtol=*/1e-12, /*atol=*/1e-14)) << name;
    }
  }
}

// Fused, in float32, against Keras's rules computed in double.
TEST(KerasOptimizerTest, FusedFloatStepsFollowKeras) {
  for (const char* name : {"rmsprop", "adam", "nadam"}) {
    torch::Tensor p = torch::ones({1}, torch::kFloat32).requires_grad_(true);
    auto opt = MakeOptimizer(name, {p});
    ASSERT_TRUE(opt.ok());
    torch::Tensor q = torch::ones({1}, torch::kFloat64).requires_grad_(true);
    auto reference = MakeOptimizer(name, {q});
    for (double g : {0.5, 0.25}) {
      p.mutable_grad() = torch::full({1}, g, torch::kFloat32);
      q.mutable_grad() = torch::full({1}, g, torch::kFloat64);
      (*opt)->Step();
      (*reference)->Step();
    }
    EXPECT_NEAR(p.item<double>(), q.item<double>(), 1e-6) << name;
  }
}

// ZeroGrad drops gradients, and the next backward sets them afresh (not accumulated).
// The learning_rate gene replaces the Keras default and nothing else: sgd and adam
// by hand with lr 0.05, and every optimizer's first step scales with it on both paths.
TEST(KerasOptimizerTest, ALearningRateReplacesTheDefault) {
  torch::Tensor p = torch::ones({1}, torch::kFloat64).requires_grad_(true);
  auto sgd = MakeOptimizer("sgd", {p}, OptimizerPath::kTensorOps, 0.05);
  ASSERT_TRUE(sgd.ok());
  p.mutable_grad() = torch::full({1}, 0.5, torch::kFloat64);
  (*sgd)->Step();
  EXPECT_NEAR(p.item<double>(), 1 - 0.05 * 0.5, 1e-12);

  torch::Tensor q = torch::ones({1}, torch::kFloat64).requires_grad_(true);
  auto adam = MakeOptimizer("adam", {q}, OptimizerPath::kTensorOps, 0.05);
  q.mutable_grad() = torch::full({1}, 0.5, torch::kFloat64);
  (*adam)->Step();
  const double lr_t = 0.05 * std::sqrt(1 - 0.999) / (1 - 0.9);
  EXPECT_NEAR(q.item<double>(), 1 - lr_t * 0.05 / (std::sqrt(0.001 * 0.25) + e), 1e-12);

  for (const char* name : {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"}) {
    for (const OptimizerPath path : {OptimizerPath::kFused, OptimizerPath::kTensorOps}) {
      auto first_step = [&](std::optional<double> lr) {
        torch::Tensor x = torch::ones({4}, torch::kFloat).requires_grad_(true);
        auto opt = MakeOptimizer(name, {x}, path, lr);
        x.mutable_grad() = torch::full({4}, 0.5, torch::kFloat);
        (*opt)->Step();
        return 1 - x[0].item<double>();
      };
      const double keras = first_step(std::nullopt);
      const double tenth = first_step(0.1);
      const double hundredth = first_step(0.01);
      EXPECT_NEAR(tenth / hundredth, 10, 1e-3) << name;
      EXPECT_GT(keras, 0) << name;
    }
  }
}

TEST(KerasOptimizerTest, ZeroGradThenBackwardGivesFreshGradients) {
  torch::Tensor p = torch::ones({3}).requires_grad_(true);
  auto opt = MakeOptimizer("sgd", {p});
  ASSERT_TRUE(opt.ok());
  (p * 2).sum().backward();
  (*opt)->ZeroGrad();
  EXPECT_FALSE(p.grad().defined());
  (p * 3).sum().backward();
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, 3.0)));
}

TEST(KerasOptimizerTest, UnknownName) {
  EXPECT_EQ(MakeOptimizer("lamb", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
// Decoupled weight decay: a matrix is first scaled by 1 - lr x decay, then takes the
// optimizer's own step; a bias (one dimension) is not decayed. A new learning rate
// applies to both from the next step.
TEST(KerasOptimizerTest, WeightDecayIsDecoupledAndSparesBiases) {
  torch::Tensor w = torch::full({2, 2}, 2.0, torch::kFloat64).requires_grad_(true);
  torch::Tensor b = torch::full({2}, 2.0, torch::kFloat64).requires_grad_(true);
  auto sgd = MakeOptimizer("sgd", {w, b}, OptimizerPath::kTensorOps, 0.1);
  ASSERT_TRUE(sgd.ok());
  (*sgd)->set_weight_decay(0.01);
  w.mutable_grad() = torch::full({2, 2}, 0.5, torch::kFloat64);
  b.mutable_grad() = torch::full({2}, 0.5, torch::kFloat64);
  (*sgd)->Step();
  EXPECT_NEAR(w[0][0].item<double>(), 2 * (1 - 0.1 * 0.01) - 0.1 * 0.5, 1e-12);
  EXPECT_NEAR(b[0].item<double>(), 2 - 0.1 * 0.5, 1e-12);
  (*sgd)->set_learning_rate(0.01);
  EXPECT_EQ((*sgd)->learning_rate(), 0.01);
  const double before = w[0][0].item<double>();
  (*sgd)->Step();
  EXPECT_NEAR(w[0][0].item<double>(), before * (1 - 0.01 * 0.01) - 0.01 * 0.5, 1e-12);
  // The fused path decays the same way.
  torch::Tensor f = torch::full({2, 2}, 2.0, torch::kFloat).requires_grad_(true);
  auto fused = MakeOptimizer("sgd", {f}, OptimizerPath::kFused, 0.1);
  (*fused)->set_weight_decay(0.01);
  f.mutable_grad() = torch::full({2, 2}, 0.5, torch::kFloat);
  (*fused)->Step();
  EXPECT_EQ((*fused)->fused_updates(), 1);
  EXPECT_NEAR(f[1][1].item<float>(), 2 * (1 - 0.1 * 0.01) - 0.1 * 0.5, 1e-6);
}

}  // namespace deepevolve::trainer
