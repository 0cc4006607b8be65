#include "genome/metrics.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace deepevolve::genome {

bool IsMetricName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_islower(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
  }
  return true;
}

absl::Status CheckMetrics(const Metrics& metrics) {
  if (metrics.size() > static_cast<size_t>(kMaxMetrics)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics: ", metrics.size(), " of them, at most ", kMaxMetrics));
  }
  for (const auto& [name, value] : metrics) {
    if (!IsMetricName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: \"", absl::CEscape(name.substr(0, 64)),
                       "\" is no metric name ([a-z][a-z0-9_]*, at most 64 characters)"));
    }
    for (const char* field : kFieldMetrics) {
      if (name == field) {
        return absl::InvalidArgumentError(
            absl::StrCat("metrics: ", name, " is reported in its own field, not as a metric"));
      }
    }
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat("metrics: ", name, " is not finite"));
    }
  }
  return absl::OkStatus();
}

bool IsBuiltinMetric(absl::string_view name) {
  for (const char* m : kFieldMetrics) {
    if (name == m) return true;
  }
  for (const char* m : kBuiltinMetrics) {
    if (name == m) return true;
  }
  return false;
}

std::optional<double> MetricOf(const v1::Trial& t, absl::string_view name) {
  if (name == "accuracy") return t.accuracy();
  if (name == "test_accuracy") return t.test_accuracy();
  if (name == "train_seconds") return t.train_seconds();
  auto it = t.metrics().find(std::string(name));
  if (it == t.metrics().end()) return std::nullopt;
  return it->second;
}

Metrics MetricsFrom(const google::protobuf::Map<std::string, double>& values) {
  return Metrics(values.begin(), values.end());
}

void CopyMetrics(const Metrics& metrics, google::protobuf::Map<std::string, double>* out) {
  out->clear();
  for (const auto& [name, value] : metrics) (*out)[name] = value;
}

}  // namespace deepevolve::genome
