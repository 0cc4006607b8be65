// Trainer throughput: the training step deepevolve's worker runs (Keras network, Keras
// loss, Keras optimizer, shuffled mini-batches), timed on synthetic Fashion-MNIST-shaped
// data. trainer_compare.py runs it beside the same loop in python3-torch.
//
//   trainer_bench --net mlp|cnn --threads N --steps S [--warmup W] [--device cpu|cuda:N]
//                 [--optimizer-path fused|tensor]
//
// Prints one JSON object: samples per second, the parameter count, the GFLOP/s the
// step achieves at 6 FLOPs per parameter per sample, the sgemm rate of this BLAS (or
// GPU), and the milliseconds of a step and of its optimizer update. On a GPU the data
// lives on the device, as the worker keeps it, and every step ends with the loss read
// back (as the worker's NaN check does), so the times are whole steps.
#include <chrono>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "worker/trainer/model.h"
#include "worker/trainer/optim.h"
#include "worker/trainer/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// GFLOP/s of a square float GEMM on `device`, the best of a few runs.
double SgemmRate(int64_t n, const torch::Device& device) {
  torch::Tensor a = torch::rand({n, n}).to(device), b = torch::rand({n, n}).to(device);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  torch::mm(a, b);
  sync();
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    auto start = Clock::now();
    torch::Tensor c = torch::mm(a, b);
    sync();
    const double s = Seconds(start);
    best = std::max(best, 2.0 * n * n * n / s / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  // As the worker does: passive OpenMP waits and the best OpenBLAS kernel that checks out.
  deepevolve::trainer::PrepareProcessForTraining();
  CLI::App app{"Times deepevolve's training step"};
  std::string net = "mlp";
  int threads = 1, steps = 300, warmup = 30;
  app.add_option("--net", net, "mlp (784-512-512-10, batch 64) or cnn (2x32 conv, batch 128)")
      ->check(CLI::IsMember({"mlp", "cnn"}));
  app.add_option("--threads", threads, "intra-op threads")->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first");
  std::string device_name = "cpu", path = "fused";
  app.add_option("--device", device_name, "cpu or cuda:N")->capture_default_str();
  app.add_option("--optimizer-path", path,
                 "fused (CPU kernels, multi-tensor elsewhere) or tensor (per-parameter ops)")
      ->check(CLI::IsMember({"fused", "tensor"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  torch::manual_seed(1);
  torch::set_num_threads(threads);
  const torch::Device device(device_name);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    std::fprintf(stderr, "--device %s: this LibTorch or machine has no CUDA\n",
                 device_name.c_str());
    return 1;
  }
  deepevolve::trainer::NetConfig config;
  int64_t batch = 64;
  if (net == "mlp") {
    config.kind = deepevolve::v1::MLP;
    config.widths = {512, 512};
    config.input_shape = {784};
  } else {
    config.kind = deepevolve::v1::CNN;
    config.widths = {32, 32};
    config.dense_units = 32;
    config.input_shape = {1, 28, 28};
    batch = 128;
  }
  config.activation = "relu";
  const int64_t n = 8192;
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), config.input_shape.begin(), config.input_shape.end());
  torch::Tensor x = torch::rand(shape).to(device);
  torch::Tensor y =
      torch::randint(0, 10, {n}, torch::TensorOptions().dtype(torch::kInt64)).to(device);

  at::Generator generator = at::detail::createCPUGenerator(1);
  // As the trainer: the CPU's own generator there, the device's default elsewhere.
  deepevolve::trainer::KerasNet model(config, device.is_cpu()
                                                  ? deepevolve::trainer::MaybeGenerator(generator)
                                                  : deepevolve::trainer::MaybeGenerator());
  model->to(device);
  model->train();
  auto optimizer = deepevolve::trainer::MakeOptimizer(
      "adam", model->parameters(),
      path == "fused" ? deepevolve::trainer::OptimizerPath::kFused
                      : deepevolve::trainer::OptimizerPath::kTensorOps);
  if (!optimizer.ok()) {
    std::fprintf(stderr, "%s\n", optimizer.status().ToString().c_str());
    return 1;
  }
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();

  torch::Tensor order = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
  int64_t cursor = 0;
  double loss_sum = 0;
  double optimizer_s = 0;  // of the timed steps: the optimizer's share of a step
  bool timed = false;
  auto step = [&] {
    if (cursor + batch > n) {
      order = torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64));
      cursor = 0;
    }
    torch::Tensor index = order.slice(0, cursor, cursor + batch).to(device);
    cursor += batch;
    torch::Tensor bx = x.index_select(0, index), by = y.index_select(0, index);
    (*optimizer)->ZeroGrad();
    torch::Tensor loss = deepevolve::trainer::KerasCrossEntropy(model->forward(bx), by);
    loss.backward();
    const auto optimizer_start = Clock::now();
    (*optimizer)->Step();
    if (timed) optimizer_s += Seconds(optimizer_start);
    loss_sum += loss.item<double>();
  };
  for (int i = 0; i < warmup; ++i) step();
  timed = true;
  auto start = Clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds = Seconds(start);
  const double samples_per_s = steps * batch / seconds;
  std::printf(
      "{\"impl\": \"deepevolve\", \"net\": \"%s\", \"device\": \"%s\", \"optimizer_path\": "
      "\"%s\", \"threads\": %d, \"batch\": %lld, \"params\": %lld, \"samples_per_s\": %.1f, "
      "\"gflops\": %.2f, \"sgemm_gflops\": %.2f, \"step_ms\": %.3f, \"optimizer_ms\": %.3f, "
      "\"mean_loss\": %.4f, \"blas_core\": \"%s\"}\n",
      net.c_str(), device.str().c_str(), path.c_str(), threads, static_cast<long long>(batch),
      static_cast<long long>(params), samples_per_s, 6.0 * params * samples_per_s / 1e9,
      SgemmRate(device.is_cuda() ? 4096 : 1024, device), 1000 * seconds / steps,
      1000 * optimizer_s / steps, loss_sum / (steps + warmup),
      deepevolve::trainer::OpenBlasCore().c_str());
  return 0;
}
