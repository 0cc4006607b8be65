#include "worker/trainer/trainer.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <new>
#include <optional>
#include <sstream>

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

namespace {

// What the epoch loop carries from one epoch to the next: with the model, the optimizer
// and the generators, everything a checkpoint holds.
struct LoopState {
  int epoch = 0;            // epochs trained
  double seconds = 0;       // training time so far, at the checkpoint
  double epochs_start = 0;  // when this run's first epoch began (resumed: when it resumed)
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t wait = 0;
  Evaluation val;
  std::vector<torch::Tensor> best;  // restore_best_weights: the best epoch's state
  Evaluation best_val;
  genome::Metrics metrics;
};

constexpr int64_t kCheckpointFormat = 1;

// The generators a training draws from: its own on the CPU, the global ones (CPU and
// device) where it seeds those.
std::vector<at::Generator> Generators(const MaybeGenerator& own, const torch::Device& device) {
  if (own.has_value()) return {*own};
  return {at::detail::getDefaultCPUGenerator(), at::globalContext().defaultGenerator(device)};
}

std::string SaveCheckpoint(const std::string& identity, const LoopState& loop, KerasNet& model,
                           const KerasOptimizer& optimizer,
                           const std::vector<at::Generator>& generators) {
  torch::serialize::OutputArchive out;
  out.write("format", c10::IValue(kCheckpointFormat));
  out.write("identity", c10::IValue(identity));
  out.write("epoch", c10::IValue(static_cast<int64_t>(loop.epoch)));
  out.write("seconds", c10::IValue(loop.seconds));
  out.write("epochs_start", c10::IValue(loop.epochs_start));
  out.write("best_val_loss", c10::IValue(loop.best_val_loss));
  out.write("wait", c10::IValue(loop.wait));
  out.write("val", c10::IValue(std::vector<double>{loop.val.loss, loop.val.accuracy}));
  out.write("best_val",
            c10::IValue(std::vector<double>{loop.best_val.loss, loop.best_val.accuracy}));
  std::vector<std::string> names;
  std::vector<double> values;
  for (const auto& [name, value] : loop.metrics) {
    names.push_back(name);
    values.push_back(value);
  }
  out.write("metric_names", c10::IValue(names));
  out.write("metric_values", c10::IValue(values));
  auto tensors = [&](const std::string& key, const std::vector<torch::Tensor>& list) {
    out.write(key + "_count", c10::IValue(static_cast<int64_t>(list.size())));
    for (size_t i = 0; i < list.size(); ++i) {
      out.write(absl::StrCat(key, "_", i), list[i].to(torch::kCPU));
    }
  };
  tensors("model", ModelState(model));
  tensors("best", loop.best);
  const KerasOptimizer::State opt = optimizer.SaveState();
  tensors("optimizer", opt.tensors);
  out.write("optimizer_numbers", c10::IValue(opt.numbers));
  std::vector<torch::Tensor> rng;
  for (const at::Generator& g : generators) rng.push_back(g.get_state());
  tensors("generator", rng);
  std::ostringstream bytes;
  out.save_to(bytes);
  return bytes.str();
}

// Reads a checkpoint into `loop`, the model, the optimizer and the generators. An
// error says why it cannot be used; the caller then trains from the first epoch (the
// model, optimizer and generators may be part-written: it builds them anew).
absl::Status RestoreCheckpoint(const std::string& bytes, const std::string& identity,
                               LoopState& loop, KerasNet& model, KerasOptimizer& optimizer,
                               const std::vector<at::Generator>& generators,
                               const torch::Device& device) {
  try {
    torch::serialize::InputArchive in;
    in.load_from(bytes.data(), bytes.size());
    c10::IValue v;
    in.read("format", v);
    if (v.toInt() != kCheckpointFormat) {
      return absl::InvalidArgumentError(
          absl::StrCat("checkpoint format ", v.toInt(), ", not ", kCheckpointFormat));
    }
    in.read("identity", v);
    if (v.toStringRef() != identity) {
      return absl::InvalidArgumentError("the checkpoint is of another genome, task or seed");
    }
    in.read("epoch", v);
    loop.epoch = static_cast<int>(v.toInt());
    in.read("seconds", v);
    loop.seconds = v.toDouble();
    in.read("epochs_start", v);
    loop.epochs_start = v.toDouble();
    in.read("best_val_loss", v);
    loop.best_val_loss = v.toDouble();
    in.read("wait", v);
    loop.wait = v.toInt();
    auto pair = [&](const char* key, Evaluation& e) {
      in.read(key, v);
      const std::vector<double> d = v.toDoubleVector();
      if (d.size() != 2) throw std::runtime_error(absl::StrCat(key, ": not a pair"));
      e.loss = d[0];
      e.accuracy = d[1];
    };
    pair("val", loop.val);
    pair("best_val", loop.best_val);
    in.read("metric_names", v);
    const std::vector<std::string> names = [&] {
      std::vector<std::string> out;
      for (const c10::IValue& n : v.toListRef()) out.push_back(n.toStringRef());
      return out;
    }();
    in.read("metric_values", v);
    const std::vector<double> values = v.toDoubleVector();
    if (names.size() != values.size()) throw std::runtime_error("metrics do not pair up");
    loop.metrics.clear();
    for (size_t i = 0; i < names.size(); ++i) loop.metrics[names[i]] = values[i];
    auto tensors = [&](const std::string& key) {
      in.read(key + "_count", v);
      std::vector<torch::Tensor> list(static_cast<size_t>(v.toInt()));
      for (size_t i = 0; i < list.size(); ++i) in.read(absl::StrCat(key, "_", i), list[i]);
      return list;
    };
    std::vector<torch::Tensor> weights = tensors("model");
    std::vector<torch::Tensor> current = ModelState(model);
    if (weights.size() != current.size()) {
      return absl::InvalidArgumentError("the checkpoint's network has other layers");
    }
    for (size_t i = 0; i < weights.size(); ++i) {
      if (!weights[i].sizes().equals(current[i].sizes())) {
        return absl::InvalidArgumentError("the checkpoint's network has other shapes");
      }
      weights[i] = weights[i].to(device);
    }
    RestoreModelState(model, weights);
    loop.best = tensors("best");
    for (torch::Tensor& t : loop.best) t = t.to(device);
    KerasOptimizer::State opt;
    opt.tensors = tensors("optimizer");
    for (torch::Tensor& t : opt.tensors) t = t.to(device);
    in.read("optimizer_numbers", v);
    opt.numbers = v.toDoubleVector();
    RETURN_IF_ERROR(optimizer.LoadState(opt));
    const std::vector<torch::Tensor> rng = tensors("generator");
    if (rng.size() != generators.size()) {
      return absl::InvalidArgumentError("the checkpoint was made on another kind of device");
    }
    for (size_t i = 0; i < rng.size(); ++i) {
      at::Generator g = generators[i];
      g.set_state(rng[i]);
    }
    return absl::OkStatus();
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat(
        "the checkpoint cannot be read: ", std::string(e.what_without_backtrace()).substr(0, 200)));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("the checkpoint cannot be read: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<genome::TrialResult> Trainer::Train(const genome::NamedGenome& genome,
                                                   const v1::TaskSpec& task, uint64_t seed,
                                                   const EpochCallback& on_epoch,
                                                   const std::string& model_path,
                                                   const CheckpointOptions* checkpoints) {
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
  double before = 0;  // training time before a resume
  auto elapsed = [&] {
    return before + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const torch::Device device = state_->device;
  try {
    // Every random draw of the trial comes from its own seed (build() below seeds).
    MaybeGenerator generator;
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

    // The trial's identity, which a checkpoint must match to be resumed from.
    const std::string identity = genome::TrialIdentity(genome, task, seed);
    const CheckpointOptions no_checkpoints;
    const CheckpointOptions& ckpt = checkpoints != nullptr ? *checkpoints : no_checkpoints;
    // The epoch training ends after: the task's last, or a round's (stop_epoch).
    const int last = ckpt.stop_epoch > 0 ? std::min(ckpt.stop_epoch, task.epochs()) : task.epochs();
    std::string resume_error;
    // A model, an optimizer and generators as training begins: built again when a
    // checkpoint turns out unusable half-way through reading it.
    std::optional<KerasNet> model;
    std::unique_ptr<KerasOptimizer> optimizer;
    auto build = [&]() -> absl::Status {
      if (device.is_cpu()) {
        generator = at::detail::createCPUGenerator(seed);
      } else {
        torch::manual_seed(seed);
      }
      model.emplace(config, generator);
      (*model)->to(device);
      (*model)->train();
      ASSIGN_OR_RETURN(optimizer, MakeOptimizer(config.optimizer, (*model)->parameters(),
                                                OptimizerPath::kFused, config.learning_rate));
      optimizer->set_weight_decay(config.weight_decay);
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(build());
    const double base_rate = optimizer->learning_rate();

    LoopState loop;
    // What is known of the model from the start goes with every epoch's progress, for a
    // pruner of several objectives, and into the result. The latency is the same with
    // any weights: measured once, before training (a resumed training keeps the first
    // measurement).
    loop.metrics = {{"params", static_cast<double>(ParameterCount(*model))},
                    {"model_bytes", static_cast<double>(StateBytes(*model))},
                    {"latency_ms", MedianLatencyMs(*model, test, device, genome::kLatencyBatch)}};
    loop.epochs_start = elapsed();
    if (!ckpt.resume.empty()) {
      LoopState resumed;
      const absl::Status restored = RestoreCheckpoint(
          ckpt.resume, ckpt.resume_identity.empty() ? identity : ckpt.resume_identity, resumed,
          *model, *optimizer, Generators(generator, device), device);
      if (restored.ok() && resumed.epoch >= 1 && resumed.epoch <= task.epochs()) {
        loop = std::move(resumed);
        before = loop.seconds;
        // epoch_seconds is the mean over the epochs this run trains.
        loop.epochs_start = elapsed();
      } else {
        resume_error = restored.ok() ? absl::StrCat("the checkpoint's epoch ", resumed.epoch,
                                                    " is not one of the task's")
                                     : std::string(restored.message());
        const genome::Metrics measured = loop.metrics;
        RETURN_IF_ERROR(build());
        loop.metrics = measured;
      }
    }
    const int resumed_from = loop.epoch;
    result.epochs_run = loop.epoch;
    double last_save = elapsed();

    const int64_t n = train.size();
    bool stopped = false;  // told to stop after an epoch: the result is that epoch's
    // A checkpoint after the epoch that ended training (the last, or early stopping's)
    // leaves nothing to train: the result is its.
    const bool ended = loop.wait > 0 && loop.wait >= task.early_stop_patience();
    for (int epoch = loop.epoch + 1; epoch <= last && !ended; ++epoch) {
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
        torch::Tensor loss = KerasCrossEntropy((*model)->forward(x), y);
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
      loop.val = Evaluate(*model, validation, device);
      loop.epoch = epoch;
      result.epochs_run = epoch;
      loop.metrics["epoch_seconds"] = (elapsed() - loop.epochs_start) / (epoch - resumed_from);
      // Keras >= 2.0.9 EarlyStopping on val_loss: an improvement is a drop of more than
      // min_delta; the wait counter is bumped before it is compared with patience.
      bool patience_out = false;
      if (loop.val.loss + task.early_stop_min_delta() < loop.best_val_loss) {
        loop.best_val_loss = loop.val.loss;
        loop.wait = 0;
        if (task.restore_best_weights()) {
          loop.best = ModelState(*model);
          loop.best_val = loop.val;
        }
      } else {
        patience_out = ++loop.wait >= task.early_stop_patience();
      }
      EpochProgress progress{epoch,
                             task.epochs(),
                             loss_sum / std::max<int64_t>(batches, 1),
                             loop.val.accuracy,
                             elapsed(),
                             loop.val.loss,
                             loop.metrics,
                             resumed_from,
                             resume_error,
                             {}};
      // The state after this epoch goes with its progress when a checkpoint is due: the
      // master records both at once, so that no epoch it counts is lost with a worker
      // (after the last epoch too: a worker lost before its report loses nothing).
      const bool due = (ckpt.every_epochs > 0 && epoch % ckpt.every_epochs == 0) ||
                       (ckpt.every_seconds > 0 && elapsed() - last_save >= ckpt.every_seconds) ||
                       (ckpt.now != nullptr && ckpt.now->load()) ||
                       (ckpt.stop_epoch > 0 && epoch == last);
      if (due) {
        loop.seconds = elapsed();
        progress.checkpoint =
            SaveCheckpoint(identity, loop, *model, *optimizer, Generators(generator, device));
        last_save = elapsed();
      }
      const AfterEpoch next = on_epoch ? on_epoch(progress) : AfterEpoch::kContinue;
      if (next == AfterEpoch::kCancel) {
        return absl::CancelledError(absl::StrCat("cancelled after epoch ", epoch));
      }
      if (next == AfterEpoch::kStop) {
        stopped = true;
        break;
      }
      if (patience_out) break;
    }
    Evaluation val = loop.val;
    // A round that ends before the task's last epoch is its own last epoch's result,
    // as a stopped one is: the next round goes on from those weights.
    if (task.restore_best_weights() && !loop.best.empty() && !stopped && last == task.epochs()) {
      RestoreModelState(*model, loop.best);
      val = loop.best_val;
    }
    genome::Metrics metrics = std::move(loop.metrics);
    const double epochs_start = loop.epochs_start;
    const double epochs_seconds = elapsed() - epochs_start;
    result.accuracy = val.accuracy;
    result.test_accuracy =
        task.validation() == v1::TEST_SET ? val.accuracy : Evaluate(*model, test, device).accuracy;
    result.metrics = std::move(metrics);
    result.metrics["epoch_seconds"] =
        epochs_seconds / std::max(result.epochs_run - resumed_from, 1);
    result.train_seconds = elapsed();
    if (!model_path.empty()) RETURN_IF_ERROR(SaveModel(*model, model_path, genome, task, result));
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
