#include "worker/trainer/trainer.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "genome/metrics.h"
#include "genome/network.h"
#include "worker/trainer/data.h"
#include "worker/trainer/model.h"
#include "worker/trainer/model_file.h"
#include "worker/trainer/optim.h"

namespace deepevolve::trainer {

struct Trainer::State {
  TrainerOptions options;
  torch::Device device{torch::kCPU};
};

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::~Trainer() = default;

std::string Trainer::device() const { return state_->device.str(); }

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainerOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  const std::string& d = options.device;
  if (d == "auto") {
    state->device =
        torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  } else if (d == "cpu") {
    state->device = torch::Device(torch::kCPU);
  } else if (absl::StartsWith(d, "cuda")) {
    int index = 0;
    if (d != "cuda" &&
        (!absl::StartsWith(d, "cuda:") || !absl::SimpleAtoi(d.substr(5), &index) || index < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("device '", d, "': expected auto, cpu or cuda:N"));
    }
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "device '", d, "': this LibTorch build or machine has no CUDA; use --device cpu"));
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(
          absl::StrCat("device '", d, "': only ", torch::cuda::device_count(), " GPUs"));
    }
    state->device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", d, "': expected auto, cpu or cuda:N"));
  }
  if (state->device.is_cuda()) {
    // cuDNN's deterministic convolution algorithms: a trial's seed then fixes its result
    // on a GPU as on the CPU (measured cost: bench/README.md, "GPU").
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  if (options.threads > 0) SetThreads(options.threads);
  return std::unique_ptr<Trainer>(new Trainer(std::move(state)));
}

absl::StatusOr<genome::TrialResult> Trainer::Train(const genome::NamedGenome& genome,
                                                   const v1::TaskSpec& task, uint64_t seed,
                                                   const EpochCallback& on_epoch,
                                                   const std::string& model_path) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Dataset> data,
                   ProcessDatasetCache(state_->options.data_dirs).Get(task.dataset()));
  genome::TrialResult result;
  ASSIGN_OR_RETURN(NetConfig config,
                   genome::NetworkFor(genome, task.net(), data->shape, data->num_classes));
  const int64_t batch = config.batch_size.value_or(task.batch_size());
  if (absl::Status s = CheckShapes(config); !s.ok()) {
    result.ok = false;
    result.error = std::string(s.message());
    return result;
  }
  // Checked before anything is built: a genome this device cannot hold fails here, with
  // its size, instead of meeting the kernel's OOM killer (a network is built in the
  // machine's memory before it moves to a GPU, so that bounds it too).
  const int64_t need = genome::TrainingBytes(config, batch);
  const int64_t have =
      state_->device.is_cuda() ? CudaDeviceBytes(state_->device.index()) : PhysicalMemoryBytes();
  if ((have > 0 && need > have) || need > PhysicalMemoryBytes()) {
    const bool device_short = have > 0 && need > have;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the genome needs about %.1f GiB to train, more than this worker's %.1f GiB (%s)",
        need / double(1 << 30), (device_short ? have : PhysicalMemoryBytes()) / double(1 << 30),
        device_short ? state_->device.str() : "cpu"));
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const torch::Device device = state_->device;
  try {
    // Every random draw of the trial comes from its own seed.
    MaybeGenerator generator;
    if (device.is_cpu()) {
      generator = at::detail::createCPUGenerator(seed);
    } else {
      torch::manual_seed(seed);
    }
    Split train = Head(data->train, task.train_limit());
    const Split test = Head(data->test, task.test_limit());
    Split validation = test;
    if (task.validation() == v1::HOLDOUT) {
      // The last fraction of the training data, as Keras's validation_split.
      const int64_t n = train.size();
      const int64_t held =
          std::max<int64_t>(1, static_cast<int64_t>(std::llround(task.validation_fraction() * n)));
      if (held >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("task.validation_fraction: holds out all ", n, " training examples"));
      }
      validation = Split{train.x.slice(0, n - held), train.y.slice(0, n - held)};
      train = Split{train.x.slice(0, 0, n - held), train.y.slice(0, 0, n - held)};
    }
    if (!device.is_cpu()) {
      train = Split{train.x.to(device), train.y.to(device)};
      validation = Split{validation.x.to(device), validation.y.to(device)};
    }

    KerasNet model(config, generator);
    model->to(device);
    model->train();
    ASSIGN_OR_RETURN(std::unique_ptr<KerasOptimizer> optimizer,
                     MakeOptimizer(config.optimizer, model->parameters(), OptimizerPath::kFused,
                                   config.learning_rate));
    optimizer->set_weight_decay(config.weight_decay);
    const double base_rate = optimizer->learning_rate();

    // What is known of the model from the start goes with every epoch's progress, for a
    // pruner of several objectives, and into the result. The latency is the same with
    // any weights: measured once, before training.
    genome::Metrics metrics = {
        {"params", static_cast<double>(ParameterCount(model))},
        {"model_bytes", static_cast<double>(StateBytes(model))},
        {"latency_ms", MedianLatencyMs(model, test, device, genome::kLatencyBatch)}};
    const double epochs_start = elapsed();

    const int64_t n = train.size();
    double best_val_loss = std::numeric_limits<double>::infinity();
    int wait = 0;
    Evaluation val;
    // restore_best_weights: the weights and buffers of the best epoch so far.
    std::vector<torch::Tensor> best;
    Evaluation best_val;
    bool stopped = false;  // told to stop after an epoch: the result is that epoch's
    for (int epoch = 1; epoch <= task.epochs(); ++epoch) {
      optimizer->set_learning_rate(
          ScheduledRate(config.lr_schedule, base_rate, epoch, task.epochs()));
      torch::Tensor order =
          torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kInt64)).to(device);
      double loss_sum = 0;
      int64_t batches = 0;
      for (int64_t b = 0; b < n; b += batch) {
        torch::Tensor index = order.slice(0, b, std::min(n, b + batch));
        torch::Tensor x =
            Augment(train.x.index_select(0, index).to(device), config.augmentation, generator);
        torch::Tensor y = train.y.index_select(0, index).to(device);
        optimizer->ZeroGrad();
        torch::Tensor loss = KerasCrossEntropy(model->forward(x), y);
        loss.backward();
        optimizer->Step();
        const double l = loss.item<double>();
        if (!std::isfinite(l)) {
          result.ok = false;
          result.error = absl::StrCat("loss became NaN at epoch ", epoch, ", batch ", batches + 1);
          result.epochs_run = epoch;
          result.train_seconds = elapsed();
          return result;
        }
        loss_sum += l;
        ++batches;
      }
      val = Evaluate(model, validation, device);
      result.epochs_run = epoch;
      metrics["epoch_seconds"] = (elapsed() - epochs_start) / epoch;
      EpochProgress progress{epoch,        task.epochs(), loss_sum / std::max<int64_t>(batches, 1),
                             val.accuracy, elapsed(),     val.loss,
                             metrics};
      const AfterEpoch next = on_epoch ? on_epoch(progress) : AfterEpoch::kContinue;
      if (next == AfterEpoch::kCancel) {
        return absl::CancelledError(absl::StrCat("cancelled after epoch ", epoch));
      }
      if (next == AfterEpoch::kStop) {
        stopped = true;
        break;
      }
      // Keras >= 2.0.9 EarlyStopping on val_loss: an improvement is a drop of more than
      // min_delta; the wait counter is bumped before it is compared with patience.
      if (val.loss + task.early_stop_min_delta() < best_val_loss) {
        best_val_loss = val.loss;
        wait = 0;
        if (task.restore_best_weights()) {
          best = ModelState(model);
          best_val = val;
        }
      } else if (++wait >= task.early_stop_patience()) {
        break;
      }
    }
    if (task.restore_best_weights() && !best.empty() && !stopped) {
      RestoreModelState(model, best);
      val = best_val;
    }
    const double epochs_seconds = elapsed() - epochs_start;
    result.accuracy = val.accuracy;
    result.test_accuracy =
        task.validation() == v1::TEST_SET ? val.accuracy : Evaluate(model, test, device).accuracy;
    result.metrics = std::move(metrics);
    result.metrics["epoch_seconds"] = epochs_seconds / std::max(result.epochs_run, 1);
    result.train_seconds = elapsed();
    if (!model_path.empty()) RETURN_IF_ERROR(SaveModel(model, model_path, genome, task, result));
    return result;
  } catch (const std::bad_alloc&) {
    // This device's limit, not the genome's fault: another device may train it.
    return absl::ResourceExhaustedError(absl::StrCat("out of memory on ", device.str()));
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    // CUDA says "out of memory"; LibTorch's CPU allocator "not enough memory".
    if (absl::StrContains(what, "out of memory") || absl::StrContains(what, "not enough memory")) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of memory on ", device.str(), ": ", what.substr(0, 200)));
    } else {
      return absl::InternalError(absl::StrCat("LibTorch: ", what.substr(0, 500)));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training failed: ", e.what()));
  }
  result.train_seconds = elapsed();
  return result;
}

absl::StatusOr<DatasetSize> CheckDataset(const std::string& name,
                                         const std::vector<std::string>& data_dirs) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Dataset> data, DatasetCache(data_dirs).Get(name));
  return DatasetSize{data->train.size(), data->test.size()};
}

void SetThreads(int threads) {
  if (threads < 1) return;
  torch::set_num_threads(threads);
  // Present when libblas.so.3 is OpenBLAS.
  using SetFn = void (*)(int);
  if (auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(threads);
  }
}

}  // namespace deepevolve::trainer
