// What a trial measured, by name: accuracy, test_accuracy and train_seconds (a trial's
// fields), and the named metrics beside them (Trial.metrics) — the built-in trainer's
// params, model_bytes, epoch_seconds and latency_ms, or whatever a trainer program
// reports. Objectives and constraints name these.
#ifndef DEEPEVOLVE_GENOME_METRICS_H_
#define DEEPEVOLVE_GENOME_METRICS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/service.pb.h"

namespace deepevolve::genome {

using Metrics = std::map<std::string, double>;

// At most this many named metrics a trial.
inline constexpr int kMaxMetrics = 32;

// The metrics that are a trial's fields, never in its map.
inline constexpr const char* kFieldMetrics[] = {"accuracy", "test_accuracy", "train_seconds"};

// What the built-in trainer measures besides the fields: the trainable parameters
// (exact), the bytes of its weights and batch-norm statistics as float32, the mean
// seconds of a training epoch, and the median milliseconds of inference on one batch of
// kLatencyBatch examples on the worker's device, after warm-up.
inline constexpr const char* kBuiltinMetrics[] = {"params", "model_bytes", "epoch_seconds",
                                                  "latency_ms"};
inline constexpr int kLatencyBatch = 1;

// [a-z][a-z0-9_]*, at most 64 characters.
bool IsMetricName(absl::string_view name);

// A worker's or program's metrics: at most kMaxMetrics, valid names, none of the
// fields', finite values. INVALID_ARGUMENT naming the first that is not.
absl::Status CheckMetrics(const Metrics& metrics);

// Whether `name` is one of the fields or the built-in trainer's metrics.
bool IsBuiltinMetric(absl::string_view name);

// The value of metric `name` for `t`; nullopt when it did not report it.
std::optional<double> MetricOf(const v1::Trial& t, absl::string_view name);

// Between a map of the protocol and Metrics.
Metrics MetricsFrom(const google::protobuf::Map<std::string, double>& values);
void CopyMetrics(const Metrics& metrics, google::protobuf::Map<std::string, double>* out);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_METRICS_H_
