#include "worker/trainer/model.h"

#include "gtest/gtest.h"

namespace deepevolve::trainer {
namespace {

// A network of `layers` layers all `width` wide, the other genes absent.
NetConfig Net(v1::NetKind kind, int64_t width, int64_t layers, std::vector<int64_t> shape) {
  NetConfig c;
  c.kind = kind;
  c.widths.assign(layers, width);
  c.dense_units = width;
  c.input_shape = std::move(shape);
  return c;
}

int64_t CountParameters(KerasNet& net) {
  int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  return n;
}

TEST(ModelTest, ParameterCountsMatchTheReferenceFormulasForEveryPreset) {
  struct Case {
    v1::NetKind kind;
    std::vector<int64_t> shape;
    std::vector<int64_t> widths;
    int max_layers;
  };
  const Case cases[] = {
      {v1::MLP, {1, 28, 28}, {64, 128}, 5},                       // mnist / fashion MLP
      {v1::MLP, {3, 32, 32}, {64, 128, 256, 512, 768, 1024}, 5},  // cifar10_mlp
      {v1::CNN, {1, 28, 28}, {16, 32, 64, 128}, 4},               // mnist / fashion CNN
      {v1::CNN, {3, 32, 32}, {16, 32, 64, 128}, 5},               // cifar10_cnn
  };
  for (const Case& c : cases) {
    for (int64_t f : c.widths) {
      for (int layers = 1; layers <= c.max_layers; ++layers) {
        NetConfig config = Net(c.kind, f, layers, c.shape);
        ASSERT_TRUE(CheckShapes(config).ok());
        KerasNet net(config, at::detail::createCPUGenerator(1));
        ASSERT_EQ(CountParameters(net), ExpectedParameterCount(config))
            << v1::NetKind_Name(c.kind) << " F=" << f << " L=" << layers;
        torch::Tensor out = net->forward(torch::zeros({2, c.shape[0], c.shape[1], c.shape[2]}));
        EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 10}));
      }
    }
  }
  // Spot checks by hand: MLP 784-64-10 and CIFAR CNN F=16, L=2 (7x7 before Flatten).
  EXPECT_EQ(ExpectedParameterCount(Net(v1::MLP, 64, 1, {1, 28, 28})), 784 * 64 + 64 + 650);
  EXPECT_EQ(ExpectedParameterCount(Net(v1::CNN, 16, 2, {3, 32, 32})),
            (27 * 16 + 16) + (9 * 256 + 16) + (49 * 16 * 16 + 16) + (160 + 10));
}

TEST(ModelTest, AFiveLayerMnistCnnIsRefusedWithTheReason) {
  NetConfig config = Net(v1::CNN, 32, 5, {1, 28, 28});
  absl::Status s = CheckShapes(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "nb_layers=5 collapses a 28x28 input: conv layer 5 gets 2x2 and needs at least 3x3");
  EXPECT_TRUE(CheckShapes(Net(v1::CNN, 32, 5, {3, 32, 32})).ok());  // CIFAR: 1x1
}

TEST(ActivationTest, MatchKerasDefinitions) {
  torch::Tensor x = torch::tensor({-3.0, -1.0, 0.0, 0.5, 3.0}, torch::kFloat64);
  auto values = [&](const char* name) {
    torch::Tensor y = *Activate(name, x);
    return std::vector<double>(y.data_ptr<double>(), y.data_ptr<double>() + 5);
  };
  const std::vector<double> hard = {0.0, 0.3, 0.5, 0.6, 1.0};  // clip(0.2x + 0.5, 0, 1)
  const auto got = values("hard_sigmoid");
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(got[i], hard[i], 1e-12);
  EXPECT_NEAR(values("elu")[1], std::exp(-1.0) - 1, 1e-12);
  EXPECT_NEAR(values("elu")[4], 3.0, 1e-12);
  EXPECT_NEAR(values("softplus")[2], std::log(2.0), 1e-12);
  EXPECT_NEAR(values("sigmoid")[3], 1 / (1 + std::exp(-0.5)), 1e-12);
  EXPECT_NEAR(values("tanh")[0], std::tanh(-3.0), 1e-12);
  EXPECT_EQ(values("relu")[1], 0.0);
  EXPECT_EQ(values("linear")[0], -3.0);
  EXPECT_FALSE(Activate("swish", x).ok());
}

TEST(InitTest, GlorotUniformWeightsAndZeroBiases) {
  KerasNet net(Net(v1::MLP, 128, 1, {1, 28, 28}), at::detail::createCPUGenerator(5));
  for (const auto& p : net->named_parameters()) {
    if (p.key().find("bias") != std::string::npos) {
      EXPECT_EQ(p.value().abs().max().item<float>(), 0.0f);
    } else {
      const double bound = std::sqrt(6.0 / (p.value().size(0) + p.value().size(1)));
      EXPECT_LE(p.value().abs().max().item<float>(), bound);
      EXPECT_GT(p.value().abs().max().item<float>(), 0.9 * bound);
      // Uniform on [-b, b] has variance b^2 / 3.
      EXPECT_NEAR(p.value().var().item<float>(), bound * bound / 3, 0.1 * bound * bound / 3);
    }
  }
}

TEST(LossTest, KerasCrossEntropyClipsProbabilities) {
  torch::Tensor logits = torch::tensor({{0.0, 0.0}, {100.0, -100.0}}, torch::kFloat64);
  torch::Tensor labels = torch::tensor({0, 1}, torch::kInt64);
  // -log(0.5) and -log(1e-7) (clipped, not -log(e^-200)), averaged.
  EXPECT_NEAR(KerasCrossEntropy(logits, labels).item<double>(),
              (std::log(2.0) - std::log(1e-7)) / 2, 1e-9);
}

// The dropout mask: the kept fraction is `keep`, kept elements are scaled by 1 / keep,
// and the seed alone fixes it.
// The dropout gene's rate: 0 makes an MLP's training forward pass its evaluation's; a
// higher rate moves training's output further from evaluation's.
TEST(ModelTest, TheDropoutRateIsTheGenesAndActsOnlyInTraining) {
  torch::Tensor x = torch::rand({256, 1, 28, 28});
  // (The CNN's dense head keeps its own 0.5, so only the MLP has no dropout at 0.)
  for (const v1::NetKind kind : {v1::MLP}) {
    NetConfig none = Net(kind, 32, 2, {1, 28, 28});
    none.dropout = 0;
    KerasNet net(none, at::detail::createCPUGenerator(3));
    torch::NoGradGuard no_grad;
    net->train();
    const torch::Tensor trained = net->forward(x);
    net->eval();
    EXPECT_TRUE(torch::allclose(trained, net->forward(x))) << v1::NetKind_Name(kind);
  }
  // A higher rate moves training's output further from the evaluation's.
  auto gap = [&](double rate) {
    NetConfig config = Net(v1::MLP, 512, 1, {1, 28, 28});
    config.dropout = rate;
    KerasNet net(config, at::detail::createCPUGenerator(3));
    torch::NoGradGuard no_grad;
    net->eval();
    const torch::Tensor eval_out = net->forward(x);
    net->train();
    return (net->forward(x) - eval_out).abs().mean().item<double>();
  };
  const double low = gap(0.1), high = gap(0.8);
  EXPECT_GT(low, 0);
  EXPECT_GT(high, 2 * low);
}

TEST(DropoutMaskTest, KeepsTheRightFractionScaledAndIsFixedByItsSeed) {
  const int64_t n = 1'000'003;
  std::vector<float> a(n), b(n), c(n);
  FillDropoutMask(a.data(), n, 42, 0.8);
  FillDropoutMask(b.data(), n, 42, 0.8);
  FillDropoutMask(c.data(), n, 43, 0.8);
  int64_t kept = 0, same_as_other_seed = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_TRUE(a[i] == 0.0f || a[i] == 1.25f) << a[i];
    kept += a[i] != 0;
    same_as_other_seed += a[i] == c[i];
  }
  EXPECT_EQ(a, b);
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.8, 0.002);
  // Independent masks agree on 0.8^2 + 0.2^2 = 68 % of the elements.
  EXPECT_NEAR(static_cast<double>(same_as_other_seed) / n, 0.68, 0.003);
  FillDropoutMask(a.data(), n, 7, 0.5);
  kept = 0;
  for (int64_t i = 0; i < n; ++i) kept += a[i] != 0;
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.5, 0.002);
}

}  // namespace
// Per-layer widths, batch normalisation, the kernel, the pooling and the dense head:
// the module has the parameters the formulas count and the layers the genes ask for.
TEST(ModelTest, TheNewGenesShapeTheNetwork) {
  NetConfig mlp = Net(v1::MLP, 64, 3, {1, 28, 28});
  mlp.widths = {256, 128, 32};
  mlp.batch_norm = true;
  KerasNet m(mlp, at::detail::createCPUGenerator(1));
  EXPECT_EQ(CountParameters(m), ExpectedParameterCount(mlp));
  int norms = 0;
  for (const auto& p : m->named_parameters()) {
    if (p.key().find("dense_norm") != std::string::npos &&
        p.key().find("weight") != std::string::npos) {
      ++norms;
    }
    if (p.key() == "dense1.weight") EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{128, 256}));
  }
  EXPECT_EQ(norms, 3);
  EXPECT_EQ(m->named_buffers().size(), 9u);  // running mean, variance, count a layer

  NetConfig cnn = Net(v1::CNN, 16, 3, {3, 32, 32});
  cnn.widths = {16, 32, 64};
  cnn.kernel_size = 5;
  cnn.dense_units = 100;
  cnn.pooling = "average";
  cnn.batch_norm = true;
  ASSERT_TRUE(CheckShapes(cnn).ok());
  KerasNet c(cnn, at::detail::createCPUGenerator(1));
  EXPECT_EQ(CountParameters(c), ExpectedParameterCount(cnn));
  for (const auto& p : c->named_parameters()) {
    if (p.key() == "conv0.weight")
      EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{16, 3, 5, 5}));
    if (p.key() == "conv2.weight")
      EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{64, 32, 5, 5}));
    if (p.key() == "dense0.weight") {
      // 32 -same-> 32 -pool-> 16 -5x5-> 12 -pool-> 6 -5x5-> 2: 64 x 2 x 2 in.
      EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{100, 256}));
    }
    if (p.key() == "head.weight") EXPECT_EQ(p.value().sizes(), (std::vector<int64_t>{10, 100}));
  }
  EXPECT_EQ(c->forward(torch::rand({4, 3, 32, 32})).sizes(), (std::vector<int64_t>{4, 10}));
  // Average pooling gives other outputs than max pooling from the same weights.
  NetConfig max_pool = cnn;
  max_pool.pooling = "max";
  KerasNet c_max(max_pool, at::detail::createCPUGenerator(1));
  c->eval();
  c_max->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({4, 3, 32, 32});
  EXPECT_FALSE(torch::allclose(c->forward(x), c_max->forward(x)));
}

TEST(AugmentTest, FlipsAndShiftsImagesKeepingTheirShape) {
  const torch::Tensor x = torch::rand({64, 1, 28, 28});
  MaybeGenerator gen = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(Augment(x, "none", gen).equal(x));
  const torch::Tensor flipped = Augment(x, "flip", gen);
  ASSERT_EQ(flipped.sizes(), x.sizes());
  int same = 0, mirrored = 0;
  for (int i = 0; i < 64; ++i) {
    same += flipped[i].equal(x[i]);
    mirrored += flipped[i].equal(x[i].flip(2));
  }
  EXPECT_EQ(same + mirrored, 64);
  EXPECT_GT(same, 16);
  EXPECT_GT(mirrored, 16);
  // A crop shifts each image by at most 2 pixels: its centre 24x24, unflipped or
  // mirrored, is somewhere in the shifted image.
  const torch::Tensor cropped = Augment(x, "crop_flip", gen);
  ASSERT_EQ(cropped.sizes(), x.sizes());
  int found = 0, unshifted = 0;
  for (int i = 0; i < 64; ++i) {
    bool hit = false;
    for (const torch::Tensor& image : {x[i], x[i].flip(2)}) {
      const torch::Tensor centre = image.slice(1, 2, 26).slice(2, 2, 26);
      for (int dy = 0; dy <= 4 && !hit; ++dy) {
        for (int dx = 0; dx <= 4 && !hit; ++dx) {
          hit = cropped[i].slice(1, dy, dy + 24).slice(2, dx, dx + 24).equal(centre);
          if (hit && dy == 2 && dx == 2) ++unshifted;
        }
      }
    }
    found += hit;
  }
  EXPECT_EQ(found, 64);
  EXPECT_LT(unshifted, 20);  // 1 in 25 expected
  // The same generator state gives the same batch.
  EXPECT_TRUE(Augment(x, "crop_flip", at::detail::createCPUGenerator(3))
                  .equal(Augment(x, "crop_flip", at::detail::createCPUGenerator(3))));
}

TEST(ScheduleTest, TheRateOfEachEpoch) {
  EXPECT_EQ(ScheduledRate("constant", 0.1, 7, 10), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledRate("cosine", 0.1, 1, 10), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledRate("cosine", 0.1, 6, 10), 0.05);
  EXPECT_NEAR(ScheduledRate("cosine", 0.1, 10, 10), 0.1 * (1 + std::cos(M_PI * 0.9)) / 2, 1e-15);
  // step over 8 epochs: 1-4 at 0.1, 5-6 at 0.01, 7-8 at 0.001.
  EXPECT_DOUBLE_EQ(ScheduledRate("step", 0.1, 4, 8), 0.1);
  EXPECT_DOUBLE_EQ(ScheduledRate("step", 0.1, 5, 8), 0.01);
  EXPECT_DOUBLE_EQ(ScheduledRate("step", 0.1, 6, 8), 0.01);
  EXPECT_DOUBLE_EQ(ScheduledRate("step", 0.1, 7, 8), 0.001);
}

}  // namespace deepevolve::trainer
