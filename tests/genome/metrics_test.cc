#include "genome/metrics.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::genome {
namespace {

TEST(MetricsTest, NamesAndValuesAreChecked) {
  EXPECT_TRUE(IsMetricName("latency_ms"));
  EXPECT_TRUE(IsMetricName("f1"));
  for (const char* bad : {"", "Latency", "1st", "_x", "a-b", "a b"}) {
    EXPECT_FALSE(IsMetricName(bad)) << bad;
  }
  EXPECT_FALSE(IsMetricName(std::string(65, 'a')));
  EXPECT_TRUE(CheckMetrics({{"params", 1e6}, {"latency_ms", 0.3}}).ok());
  EXPECT_FALSE(CheckMetrics({{"params", std::nan("")}}).ok());
  EXPECT_FALSE(CheckMetrics({{"test_accuracy", 0.5}}).ok());
  Metrics many;
  for (int i = 0; i <= kMaxMetrics; ++i) many["m" + std::to_string(i)] = i;
  EXPECT_FALSE(CheckMetrics(many).ok());
}

TEST(MetricsTest, AMetricIsAFieldOrFromTheMap) {
  v1::Trial t;
  t.set_accuracy(0.9);
  t.set_test_accuracy(0.8);
  t.set_train_seconds(12);
  (*t.mutable_metrics())["params"] = 5000;
  EXPECT_EQ(MetricOf(t, "accuracy"), 0.9);
  EXPECT_EQ(MetricOf(t, "test_accuracy"), 0.8);
  EXPECT_EQ(MetricOf(t, "train_seconds"), 12);
  EXPECT_EQ(MetricOf(t, "params"), 5000);
  EXPECT_EQ(MetricOf(t, "latency_ms"), std::nullopt);
  EXPECT_TRUE(IsBuiltinMetric("latency_ms"));
  EXPECT_FALSE(IsBuiltinMetric("flops"));
}

}  // namespace
}  // namespace deepevolve::genome
