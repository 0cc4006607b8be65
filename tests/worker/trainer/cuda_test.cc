// The trainer on a CUDA device, checked against its CPU paths. Every test skips where
// this LibTorch or machine has no CUDA (Debian's LibTorch is CPU-only, so CI skips
// them); deploy/gpu/run-checks.sh runs them on a GPU machine.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/trainer/trials.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optim.h"
#include "worker/trainer/trainer.h"

namespace deepevolve::trainer {
namespace {

const torch::Device kCuda(torch::kCUDA, 0);

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA in this LibTorch or machine";
  }

  static std::unique_ptr<Trainer> MakeTrainer(const std::string& device) {
    TrainerOptions o;
    o.device = device;
    auto t = Trainer::Create(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return *std::move(t);
  }
};

using trials::Genome;
using trials::Task;

TEST_F(CudaTest, DeviceStrings) {
  EXPECT_EQ(MakeTrainer("cuda:0")->device(), "cuda:0");
  EXPECT_EQ(MakeTrainer("cuda")->device(), "cuda:0");
  EXPECT_EQ(MakeTrainer("auto")->device(), "cuda:0");
  TrainerOptions o;
  o.device = "cuda:99";
  EXPECT_EQ(Trainer::Create(o).status().code(), absl::StatusCode::kFailedPrecondition);
  o.device = "cuda:x";
  EXPECT_EQ(Trainer::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

// Every optimizer on CUDA parameters, on its default (multi-tensor) path and on the
// per-parameter tensor operations, against the CPU's fused float kernels: the same
// parameters (a matrix that decays, a vector long enough for several CPU chunks, a
// bias), the same gradients, five steps with weight decay: equal within float rounding.
TEST_F(CudaTest, EveryOptimizerOnCudaMatchesTheCpuKernels) {
  for (const char* name : {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"}) {
    for (const OptimizerPath path : {OptimizerPath::kFused, OptimizerPath::kTensorOps}) {
      torch::manual_seed(3);
      std::vector<torch::Tensor> cpu = {torch::randn({300, 200}), torch::randn({100'003}),
                                        torch::randn({7})};
      std::vector<torch::Tensor> cuda;
      for (const torch::Tensor& t : cpu) cuda.push_back(t.to(kCuda));
      const std::vector<torch::Tensor> start = {cpu[0].clone(), cpu[1].clone()};
      auto on_cpu = MakeOptimizer(name, cpu, OptimizerPath::kFused);
      auto on_cuda = MakeOptimizer(name, cuda, path);
      ASSERT_TRUE(on_cpu.ok() && on_cuda.ok());
      (*on_cpu)->set_weight_decay(0.01);
      (*on_cuda)->set_weight_decay(0.01);
      for (int step = 0; step < 5; ++step) {
        for (size_t i = 0; i < cpu.size(); ++i) {
          torch::Tensor g = torch::randn(cpu[i].sizes()) * (step + 1);
          cpu[i].mutable_grad() = g;
          cuda[i].mutable_grad() = g.to(kCuda);
        }
        (*on_cpu)->Step();
        (*on_cuda)->Step();
      }
      const std::string label =
          absl::StrCat(name, path == OptimizerPath::kFused ? " multi-tensor" : " tensor ops");
      EXPECT_EQ((*on_cpu)->fused_updates(), 15) << label;
      EXPECT_EQ((*on_cuda)->fused_updates(), 0) << label;
      EXPECT_EQ((*on_cuda)->multi_tensor_updates(), path == OptimizerPath::kFused ? 15 : 0)
          << label;
      EXPECT_GT((cpu[1] - start[1]).abs().max().item<double>(), 1e-4) << label << " did not move";
      for (size_t i = 0; i < cpu.size(); ++i) {
        const torch::Tensor back = cuda[i].cpu();
        EXPECT_TRUE(torch::allclose(back, cpu[i], /*rtol=*/1e-5, /*atol=*/1e-6))
            << label << ", parameter " << i << ": largest difference "
            << (back - cpu[i]).abs().max().item<double>();
      }
    }
  }
}

// The loss and every parameter's gradient of `config`'s network with the same weights
// on the CPU and on CUDA, on one batch, in training or evaluation mode: the loss within
// `loss_tolerance`, each gradient within `relative` of its norm (a gradient of norm below
// 1e-6 within 1e-6).
void ExpectSameOnBothDevices(const genome::Network& config, bool training, double loss_tolerance,
                             double relative) {
  KerasNet cpu(config, at::detail::createCPUGenerator(1));
  KerasNet cuda(config, at::detail::createCPUGenerator(1));
  cuda->to(kCuda);
  cpu->train(training);
  cuda->train(training);
  torch::manual_seed(5);
  std::vector<int64_t> shape = {32};
  shape.insert(shape.end(), config.input_shape.begin(), config.input_shape.end());
  torch::Tensor x = torch::rand(shape);
  torch::Tensor y = torch::randint(0, 10, {32}, torch::TensorOptions().dtype(torch::kInt64));
  torch::Tensor loss_cpu = KerasCrossEntropy(cpu->forward(x), y);
  torch::Tensor loss_cuda = KerasCrossEntropy(cuda->forward(x.to(kCuda)), y.to(kCuda));
  loss_cpu.backward();
  loss_cuda.backward();
  EXPECT_NEAR(loss_cuda.item<double>(), loss_cpu.item<double>(), loss_tolerance);
  auto a = cpu->named_parameters(), b = cuda->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const torch::Tensor ga = a[i].value().grad(), gb = b[i].value().grad().cpu();
    const double norm = ga.norm().item<double>();
    if (norm < 1e-6) {
      // A bias that batch normalisation follows does not move the loss: its gradient is
      // rounding noise on both devices (measured: at most 2e-8), and only its size counts.
      EXPECT_LE((gb - ga).abs().max().item<double>(), 1e-6) << a[i].key();
      continue;
    }
    const double off = (gb - ga).norm().item<double>() / norm;
    EXPECT_LE(off, relative) << a[i].key() << ": largest difference "
                             << (gb - ga).abs().max().item<double>();
  }
}

// The same network with the same weights computes the same loss and gradients on both
// devices: an MLP with batch normalisation in training (its dropout set to 0), to float
// rounding; and a CNN with batch normalisation evaluated (its dense head always drops
// half in training, from each device's own random stream), to TF32's rounding: cuDNN
// convolutions on Ampere and later GPUs round their inputs to TF32 (10-bit mantissa)
// unless told not to, LibTorch's default, which the trainer keeps (measured on an H200:
// the loss 5e-5 apart, conv kernels' gradients at most 1.4e-3 apart).
TEST_F(CudaTest, ANetworkComputesTheSameOnCudaAsOnTheCpu) {
  genome::Network mlp;
  mlp.kind = v1::MLP;
  mlp.widths = {256, 128};
  mlp.input_shape = {784};
  mlp.activation = "tanh";
  mlp.batch_norm = true;
  mlp.dropout = 0;
  ExpectSameOnBothDevices(mlp, /*training=*/true, /*loss_tolerance=*/1e-5, /*relative=*/1e-4);
  genome::Network cnn;
  cnn.kind = v1::CNN;
  cnn.widths = {16, 32};
  cnn.dense_units = 64;
  cnn.input_shape = {1, 28, 28};
  cnn.activation = "elu";
  cnn.batch_norm = true;
  cnn.kernel_size = 5;
  ExpectSameOnBothDevices(cnn, /*training=*/false, /*loss_tolerance=*/5e-4, /*relative=*/5e-2);
}

// Real training on the GPU learns Fashion-MNIST as the CPU does: the same genome and
// seed (the same initial weights; other shuffles and dropout masks) within 3 points.
TEST_F(CudaTest, AnMlpLearnsFashionMnistOnCudaAsOnTheCpu) {
  auto gpu = MakeTrainer("cuda:0");
  auto cpu = MakeTrainer("cpu");
  const v1::TaskSpec task = Task("fashion_mnist_mlp", 8000, 2);
  auto on_gpu = gpu->Train(Genome(128, 1, "relu", "adam"), task, 1);
  auto on_cpu = cpu->Train(Genome(128, 1, "relu", "adam"), task, 1);
  ASSERT_TRUE(on_gpu.ok()) << on_gpu.status();
  ASSERT_TRUE(on_gpu->ok) << on_gpu->error;
  ASSERT_TRUE(on_cpu.ok() && on_cpu->ok);
  std::printf("cuda %.4f, cpu %.4f test accuracy\n", on_gpu->test_accuracy, on_cpu->test_accuracy);
  EXPECT_GT(on_gpu->test_accuracy, 0.7);
  EXPECT_NEAR(on_gpu->test_accuracy, on_cpu->test_accuracy, 0.03);
}

// A trial's seed fixes its result on a GPU: the trainer asks cuDNN for deterministic
// convolutions, and nothing else in a step sums in a varying order. Stated tolerance:
// equal accuracies (0 difference) for a CNN over every new gene; another seed differs.
TEST_F(CudaTest, SameSeedSameResultOnCuda) {
  auto trainer = MakeTrainer("cuda:0");
  genome::NamedGenome genome = trials::NewGenesCnn(16, 32, 64);
  const v1::TaskSpec task = Task("fashion_mnist_cnn", 6000, 2);
  auto a = trainer->Train(genome, task, 42);
  auto b = trainer->Train(genome, task, 42);
  auto c = trainer->Train(genome, task, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status() << b.status() << c.status();
  ASSERT_TRUE(a->ok && b->ok && c->ok) << a->error;
  std::printf("seed 42: %.4f and %.4f validation, %.4f and %.4f test; seed 43: %.4f\n", a->accuracy,
              b->accuracy, a->test_accuracy, b->test_accuracy, c->accuracy);
  EXPECT_GT(a->accuracy, 0.6);
  EXPECT_EQ(a->accuracy, b->accuracy);
  EXPECT_EQ(a->test_accuracy, b->test_accuracy);
  EXPECT_NE(a->accuracy, c->accuracy);
}

// A model trained on the GPU is saved on the CPU's terms and loads (on the CPU) to its
// test accuracy, within 2 of 2 000 images (another device's rounding may move a
// prediction that sits on a tie).
TEST_F(CudaTest, AModelTrainedOnCudaLoadsOnTheCpu) {
  auto trainer = MakeTrainer("cuda:0");
  const std::string path = ::testing::TempDir() + "/cuda_model_test.pt";
  genome::NamedGenome genome = Genome(64, 2, "relu", "rmsprop");
  genome.emplace_back("batch_norm", std::string("true"));
  auto r = trainer->Train(genome, Task("fashion_mnist_mlp", 3000, 1), 5, nullptr, path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->ok) << r->error;
  double recomputed = -1;
  auto saved = LoadModel(path, {}, &recomputed);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_NEAR(recomputed, r->test_accuracy, 0.001);
  std::filesystem::remove(path);
}

// A genome larger than the GPU is refused with its size before anything is built.
TEST_F(CudaTest, AGenomeTooLargeForTheGpuIsRefusedWithItsSize) {
  auto trainer = MakeTrainer("cuda:0");
  auto r = trainer->Train(Genome(65536, 64, "relu", "adam"), Task("fashion_mnist_mlp", 1000, 1), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("GiB to train"));
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("(cuda:0)"));
}

// Stopping and cancelling after an epoch work on the GPU as on the CPU.
TEST_F(CudaTest, StopEndsTrainingOnCudaWithTheResultSoFar) {
  auto trainer = MakeTrainer("cuda:0");
  int calls = 0;
  auto r = trainer->Train(Genome(64, 1, "relu", "adam"), Task("fashion_mnist_mlp", 2000, 3), 1,
                          [&](const EpochProgress&) {
                            ++calls;
                            return AfterEpoch::kStop;
                          });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r->epochs_run, 1);
  EXPECT_GT(r->accuracy, 0.3);
}

}  // namespace
}  // namespace deepevolve::trainer
