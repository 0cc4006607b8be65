// The Pareto ranking against definitions written the slow, obvious way.
#include "genome/pareto.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/objectives.h"

namespace deepevolve::genome {
namespace {

using Points = std::vector<std::vector<double>>;

// Fronts by peeling: the points no remaining point dominates, removed, again.
std::vector<int> PeeledFronts(const Points& values) {
  std::vector<int> front(values.size(), -1);
  std::set<size_t> left;
  for (size_t i = 0; i < values.size(); ++i) left.insert(i);
  for (int k = 0; !left.empty(); ++k) {
    std::vector<size_t> layer;
    for (size_t i : left) {
      bool dominated = false;
      for (size_t j : left) dominated |= Dominates(values[j], values[i]);
      if (!dominated) layer.push_back(i);
    }
    for (size_t i : layer) {
      front[i] = k;
      left.erase(i);
    }
  }
  return front;
}

// Random points on a coarse grid, so that ties and duplicates happen.
Points RandomPoints(std::mt19937_64& rng, int n, int objectives, int levels) {
  std::uniform_int_distribution<int> value(0, levels - 1);
  Points out(n, std::vector<double>(objectives));
  for (auto& p : out) {
    for (double& v : p) v = value(rng);
  }
  return out;
}

TEST(ParetoTest, FrontsAreThoseOfPeelingOnRandomPoints) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 300; ++round) {
    const int objectives = 1 + round % 4;
    const Points values =
        RandomPoints(rng, 1 + static_cast<int>(rng() % 80), objectives, 2 + round % 20);
    ASSERT_EQ(NonDominatedFronts(values), PeeledFronts(values)) << "round " << round;
  }
}

// Peeling only the fronts it needs gives ParetoOrder's first points, in its order, with
// tiers, infeasible points and repeated values about.
TEST(ParetoTest, TheFirstInParetoOrderAreParetoOrdersFirst) {
  std::mt19937_64 rng(12);
  for (int round = 0; round < 300; ++round) {
    const int objectives = 1 + round % 4;
    const Points values =
        RandomPoints(rng, 1 + static_cast<int>(rng() % 120), objectives, 2 + round % 20);
    std::vector<ParetoPoint> points;
    for (size_t i = 0; i < values.size(); ++i) {
      const int tier = rng() % 5 == 0 ? 1 : 0;
      const double violation = rng() % 7 == 0 ? static_cast<double>(rng() % 3 + 1) : 0;
      points.push_back(
          {round % 3 == 0 ? tier + 1 : tier, violation, values[i], static_cast<int64_t>(i)});
    }
    const std::vector<size_t> order = ParetoOrder(points);
    for (size_t count : {size_t{1}, size_t{5}, size_t{25}, points.size(), points.size() + 3}) {
      std::vector<size_t> first(order.begin(), order.begin() + std::min(count, order.size()));
      ASSERT_EQ(FirstInParetoOrder(points, count), first) << "round " << round << ", " << count;
    }
  }
}

TEST(ParetoTest, CrowdingDistanceIsTheSumOfNormalisedNeighbourGaps) {
  // One front of four points on a line from (0, 3) to (3, 0), unevenly spaced.
  const Points values = {{0, 3}, {1, 2}, {3, 0}, {2.5, 0.5}};
  const std::vector<int> fronts = NonDominatedFronts(values);
  ASSERT_EQ(fronts, (std::vector<int>{0, 0, 0, 0}));
  const std::vector<double> d = CrowdingDistances(values, fronts);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[2], kInf);
  // Each objective's gap between its neighbours over the objective's range (3).
  EXPECT_DOUBLE_EQ(d[1], (2.5 - 0) / 3 + (3 - 0.5) / 3);
  EXPECT_DOUBLE_EQ(d[3], (3 - 1) / 3.0 + (2 - 0) / 3.0);
  // Two points are both extremes.
  EXPECT_EQ(CrowdingDistances({{1, 0}, {0, 1}}, {0, 0}), (std::vector<double>{kInf, kInf}));
}

TEST(ParetoTest, OrderIsTierThenFeasibilityThenFrontThenCrowding) {
  std::vector<ParetoPoint> points = {
      {0, 0, {0.9, -100}, 1},                          // front 0, an extreme
      {0, 0, {0.8, -50}, 2},                           // front 0, the middle
      {0, 0, {0.7, -10}, 3},                           // front 0, an extreme
      {0, 0, {0.6, -60}, 4},                           // front 1: (0.8, -50) dominates it
      {0, 0.5, {1.0, -1}, 5},                          // infeasible: after every feasible one
      {0, 0.2, {0.1, -900}, 6}, {1, 0, {1.0, -1}, 7},  // pruned: after every fully trained one
      {2, 0, {0, 0}, 8},                               // failed
  };
  std::vector<ParetoRank> ranks;
  const std::vector<size_t> order = ParetoOrder(points, &ranks);
  std::vector<int64_t> ids;
  for (size_t i : order) ids.push_back(points[i].id);
  // The extremes tie on crowding (infinite): the first objective decides.
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 3, 2, 4, 6, 5, 7, 8}));
  EXPECT_EQ(ranks[3].front, 1);
  EXPECT_EQ(ranks[4].front, -1);
}

// On integer points the hypervolume is a count of unit cells: a cell is covered when
// some point is at or above its upper corner.
TEST(ParetoTest, HypervolumeCountsTheCellsThePointsCover) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    const int m = 1 + round % 3;
    const int levels = 6;
    const Points values = RandomPoints(rng, 1 + static_cast<int>(rng() % 12), m, levels);
    const std::vector<double> reference(m, -1);
    int64_t cells = 0;
    std::vector<int> corner(m, -1);
    while (true) {
      bool covered = false;
      for (const auto& p : values) {
        bool above = true;
        for (int k = 0; k < m; ++k) above &= p[k] >= corner[k] + 1;
        covered |= above;
      }
      cells += covered;
      int k = 0;
      for (; k < m && ++corner[k] == levels; ++k) corner[k] = -1;
      if (k == m) break;
    }
    ASSERT_DOUBLE_EQ(Hypervolume(values, reference), static_cast<double>(cells)) << round;
  }
  EXPECT_EQ(Hypervolume({{0.5, 0.5}}, {0.5, 0}), 0);  // not above the reference
}

TEST(ParetoTest, ObjectivesOrientGoalsAndMeasureViolations) {
  v1::SearchSpec spec;
  ::deepevolve::testing::AccuracyAgainstParams(spec);
  auto* c = spec.add_constraints();
  c->set_metric("params");
  c->set_max(1000);
  c = spec.add_constraints();
  c->set_metric("latency_ms");
  c->set_min(0.5);
  const Objectives objectives(spec);
  v1::Trial t;
  t.mutable_genome()->set_id(9);
  t.set_state(v1::DONE);
  t.set_accuracy(0.8);
  (*t.mutable_metrics())["params"] = 1500;
  (*t.mutable_metrics())["latency_ms"] = 0.25;
  ParetoPoint p = objectives.Point(t);
  EXPECT_EQ(p.tier, 0);
  EXPECT_EQ(p.values, (std::vector<double>{0.8, -1500}));
  EXPECT_DOUBLE_EQ(p.violation, 500.0 / 1000 + 0.25 / 1);
  t.mutable_metrics()->erase("latency_ms");
  EXPECT_EQ(objectives.Point(t).violation, std::numeric_limits<double>::infinity());
  t.set_state(v1::PRUNED);
  EXPECT_EQ(objectives.Point(t).tier, 1);
  t.set_state(v1::TRIAL_FAILED);
  EXPECT_EQ(objectives.Point(t).tier, 2);
  // No objectives: accuracy, maximized.
  EXPECT_EQ(Objectives(v1::SearchSpec()).objectives().size(), 1u);

  // After an epoch: the epoch's accuracy and metrics; a constraint of a metric not known
  // then is not counted, an objective not known then leaves no point.
  v1::EpochPoint e;
  e.set_epoch(1);
  e.set_val_accuracy(0.6);
  (*e.mutable_metrics())["params"] = 1500;
  const std::optional<ParetoPoint> at = objectives.AtEpoch(9, e);
  ASSERT_TRUE(at.has_value());
  EXPECT_EQ(at->id, 9);
  EXPECT_EQ(at->values, (std::vector<double>{0.6, -1500}));
  EXPECT_DOUBLE_EQ(at->violation, 0.5);
  e.mutable_metrics()->clear();
  EXPECT_FALSE(objectives.AtEpoch(9, e).has_value());
}

TEST(ParetoTest, FrontNumbersOfALeaderboardsRowsAreTheirFrontsInTheirTier) {
  v1::SearchSpec spec;
  ::deepevolve::testing::AccuracyAgainstParams(spec);
  auto* c = spec.add_constraints();
  c->set_metric("params");
  c->set_max(500);
  const Objectives objectives(spec);
  std::vector<v1::Trial> trials;
  auto add = [&](v1::TrialState state, double accuracy, double params) {
    v1::Trial& t = trials.emplace_back();
    t.mutable_genome()->set_id(static_cast<int64_t>(trials.size()));
    t.set_state(state);
    t.set_accuracy(accuracy);
    (*t.mutable_metrics())["params"] = params;
  };
  add(v1::DONE, 0.9, 400);      // front 1
  add(v1::DONE, 0.8, 100);      // front 1
  add(v1::DONE, 0.85, 450);     // front 2: below the first
  add(v1::DONE, 0.95, 900);     // breaks the constraint: no front
  add(v1::PRUNED, 0.7, 300);    // the pruned have fronts of their own
  add(v1::PRUNED, 0.6, 350);    // dominated by the pruned one above
  add(v1::TRIAL_FAILED, 0, 0);  // none
  std::vector<const v1::Trial*> ranked;
  for (const v1::Trial& t : trials) ranked.push_back(&t);
  EXPECT_EQ(FrontNumbers(objectives, ranked), (std::vector<int>{1, 1, 2, 0, 1, 2, 0}));
}

}  // namespace
}  // namespace deepevolve::genome
