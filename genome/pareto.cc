#include "genome/pareto.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "genome/metrics.h"
#include "genome/trial_rank.h"

namespace deepevolve::genome {

bool Dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (size_t m = 0; m < a.size(); ++m) {
    if (a[m] < b[m]) return false;
    better |= a[m] > b[m];
  }
  return better;
}

std::vector<int> NonDominatedFronts(const std::vector<std::vector<double>>& values) {
  const size_t n = values.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Best first in lexicographic order: no point is dominated by one after it.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] > values[b]; });
  std::vector<int> front(n, 0);
  std::vector<std::vector<size_t>> fronts;
  for (size_t p : order) {
    size_t k = 0;
    for (; k < fronts.size(); ++k) {
      // The latest members first: the likeliest to dominate the next point.
      bool dominated = false;
      for (auto q = fronts[k].rbegin(); q != fronts[k].rend() && !dominated; ++q) {
        dominated = Dominates(values[*q], values[p]);
      }
      if (!dominated) break;
    }
    if (k == fronts.size()) fronts.emplace_back();
    fronts[k].push_back(p);
    front[p] = static_cast<int>(k);
  }
  return front;
}

std::vector<double> CrowdingDistances(const std::vector<std::vector<double>>& values,
                                      const std::vector<int>& fronts) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> distance(values.size(), 0);
  std::vector<std::vector<size_t>> members;
  for (size_t i = 0; i < fronts.size(); ++i) {
    if (fronts[i] < 0) continue;
    if (static_cast<size_t>(fronts[i]) >= members.size()) members.resize(fronts[i] + 1);
    members[fronts[i]].push_back(i);
  }
  for (std::vector<size_t>& f : members) {
    if (f.size() <= 2) {
      for (size_t i : f) distance[i] = kInf;
      continue;
    }
    const size_t objectives = values[f[0]].size();
    for (size_t m = 0; m < objectives; ++m) {
      std::stable_sort(f.begin(), f.end(),
                       [&](size_t a, size_t b) { return values[a][m] < values[b][m]; });
      distance[f.front()] = distance[f.back()] = kInf;
      const double range = values[f.back()][m] - values[f.front()][m];
      if (range <= 0) continue;
      for (size_t i = 1; i + 1 < f.size(); ++i) {
        distance[f[i]] += (values[f[i + 1]][m] - values[f[i - 1]][m]) / range;
      }
    }
  }
  return distance;
}

std::vector<size_t> ParetoOrder(const std::vector<ParetoPoint>& points,
                                std::vector<ParetoRank>* ranks_out) {
  std::vector<ParetoRank> ranks(points.size());
  // Fronts among the feasible points of each tier.
  for (int tier = 0; tier <= 2; ++tier) {
    std::vector<size_t> members;
    std::vector<std::vector<double>> values;
    for (size_t i = 0; i < points.size(); ++i) {
      if (points[i].tier == tier && points[i].violation == 0) {
        members.push_back(i);
        values.push_back(points[i].values);
      }
    }
    if (members.empty()) continue;
    const std::vector<int> fronts = NonDominatedFronts(values);
    const std::vector<double> crowding = CrowdingDistances(values, fronts);
    for (size_t j = 0; j < members.size(); ++j) ranks[members[j]] = {fronts[j], crowding[j]};
  }
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ParetoPoint& p = points[a];
    const ParetoPoint& q = points[b];
    if (p.tier != q.tier) return p.tier < q.tier;
    const bool p_feasible = p.violation == 0, q_feasible = q.violation == 0;
    if (p_feasible != q_feasible) return p_feasible;
    if (!p_feasible) return p.violation != q.violation ? p.violation < q.violation : p.id < q.id;
    if (ranks[a].front != ranks[b].front) return ranks[a].front < ranks[b].front;
    if (ranks[a].crowding != ranks[b].crowding) return ranks[a].crowding > ranks[b].crowding;
    if (!p.values.empty() && p.values[0] != q.values[0]) return p.values[0] > q.values[0];
    return p.id < q.id;
  });
  if (ranks_out != nullptr) *ranks_out = std::move(ranks);
  return order;
}

std::vector<size_t> FirstInParetoOrder(const std::vector<ParetoPoint>& points, size_t count) {
  count = std::min(count, points.size());
  if (count == 0) return {};
  // The best tier with a point: its feasible points come first.
  int tier = 2;
  for (const ParetoPoint& p : points) tier = std::min(tier, p.tier);
  std::vector<size_t> rest;
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].tier == tier && points[i].violation == 0) rest.push_back(i);
  }
  if (rest.size() < count) {
    // Fewer feasible points there than asked for: the order reaches past them.
    std::vector<size_t> order = ParetoOrder(points);
    order.resize(count);
    return order;
  }
  // Peel fronts until `count` points are in them: a front is what no remaining point
  // dominates, kept as an archive that a newcomer enters and clears.
  std::vector<size_t> peeled;
  while (peeled.size() < count) {
    std::vector<size_t> front, others;
    for (size_t i : rest) {
      bool dominated = false;
      for (size_t f : front) {
        if (Dominates(points[f].values, points[i].values)) {
          dominated = true;
          break;
        }
      }
      if (dominated) {
        others.push_back(i);
        continue;
      }
      std::vector<size_t> kept;
      for (size_t f : front) {
        (Dominates(points[i].values, points[f].values) ? others : kept).push_back(f);
      }
      kept.push_back(i);
      front = std::move(kept);
    }
    peeled.insert(peeled.end(), front.begin(), front.end());
    rest = std::move(others);
  }
  // Those fronts alone order as they do among all the points: a front's members and
  // their crowding depend on nothing ranked after it (in the points' own order, which
  // breaks the crowding's ties).
  std::sort(peeled.begin(), peeled.end());
  std::vector<ParetoPoint> subset;
  subset.reserve(peeled.size());
  for (size_t i : peeled) subset.push_back(points[i]);
  std::vector<size_t> order;
  for (size_t j : ParetoOrder(subset)) {
    if (order.size() == count) break;
    order.push_back(peeled[j]);
  }
  return order;
}

namespace {

// Hypervolume of `points` (each above `reference` in its first `m` values).
double SlicedVolume(std::vector<const std::vector<double>*> points,
                    const std::vector<double>& reference, size_t m) {
  if (points.empty()) return 0;
  if (m == 1) {
    double best = reference[0];
    for (const std::vector<double>* p : points) best = std::max(best, (*p)[0]);
    return best - reference[0];
  }
  // Slices along the last value, the highest first: the slice between a point's value
  // and the next one below holds the (m-1)-volume of every point at or above it.
  std::sort(points.begin(), points.end(),
            [m](const auto* a, const auto* b) { return (*a)[m - 1] > (*b)[m - 1]; });
  double volume = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const double below = i + 1 < points.size() ? (*points[i + 1])[m - 1] : reference[m - 1];
    const double height = (*points[i])[m - 1] - below;
    if (height <= 0) continue;
    std::vector<const std::vector<double>*> above(points.begin(), points.begin() + i + 1);
    volume += height * SlicedVolume(std::move(above), reference, m - 1);
  }
  return volume;
}

// How far `v` misses constraint `c`: relative to the bound, so that bounds on params
// and on accuracy weigh alike.
double Violation(const v1::Constraint& c, double v) {
  double miss = 0;
  if (c.has_max() && v > c.max()) miss += (v - c.max()) / std::max(1.0, std::abs(c.max()));
  if (c.has_min() && v < c.min()) miss += (c.min() - v) / std::max(1.0, std::abs(c.min()));
  return miss;
}

}  // namespace

double Hypervolume(std::vector<std::vector<double>> values, const std::vector<double>& reference) {
  // Only the non-dominated points above the reference bound anything.
  values.erase(std::remove_if(values.begin(), values.end(),
                              [&](const std::vector<double>& v) {
                                for (size_t m = 0; m < v.size(); ++m) {
                                  if (v[m] <= reference[m]) return true;
                                }
                                return false;
                              }),
               values.end());
  const std::vector<int> fronts = NonDominatedFronts(values);
  std::vector<const std::vector<double>*> front;
  for (size_t i = 0; i < values.size(); ++i) {
    if (fronts[i] == 0) front.push_back(&values[i]);
  }
  return SlicedVolume(std::move(front), reference, reference.size());
}

Objectives::Objectives(const v1::SearchSpec& spec)
    : objectives_(spec.objectives().begin(), spec.objectives().end()),
      constraints_(spec.constraints().begin(), spec.constraints().end()) {
  if (objectives_.empty()) {
    v1::Objective accuracy;
    accuracy.set_metric("accuracy");
    accuracy.set_goal("maximize");
    objectives_.push_back(accuracy);
  }
}

ParetoPoint Objectives::Point(const v1::Trial& t) const {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ParetoPoint p;
  p.id = t.genome().id();
  p.tier = !IsSuccess(t) ? 2 : t.state() == v1::PRUNED ? 1 : 0;
  for (const v1::Objective& o : objectives_) {
    const std::optional<double> v = MetricOf(t, o.metric());
    if (!v.has_value()) {
      p.violation = kInf;
      p.values.push_back(-kInf);
      continue;
    }
    p.values.push_back(o.goal() == "minimize" ? -*v : *v);
  }
  for (const v1::Constraint& c : constraints_) {
    const std::optional<double> v = MetricOf(t, c.metric());
    if (!v.has_value()) {
      p.violation = kInf;
      continue;
    }
    p.violation += Violation(c, *v);
  }
  return p;
}

std::optional<ParetoPoint> Objectives::AtEpoch(int64_t id, const v1::EpochPoint& e) const {
  auto metric = [&](const std::string& name) -> std::optional<double> {
    if (name == "accuracy") return e.val_accuracy();
    if (name == "train_seconds") return e.elapsed_seconds();
    auto it = e.metrics().find(name);
    if (it == e.metrics().end()) return std::nullopt;
    return it->second;
  };
  ParetoPoint p;
  p.id = id;
  for (const v1::Objective& o : objectives_) {
    const std::optional<double> v = metric(o.metric());
    if (!v.has_value()) return std::nullopt;
    p.values.push_back(o.goal() == "minimize" ? -*v : *v);
  }
  for (const v1::Constraint& c : constraints_) {
    const std::optional<double> v = metric(c.metric());
    if (v.has_value()) p.violation += Violation(c, *v);
  }
  return p;
}

std::vector<int> FrontNumbers(const Objectives& objectives,
                              const std::vector<const v1::Trial*>& ranked) {
  // ParetoOrder's fronts: per tier, among the feasible points (-1 for the others).
  std::vector<ParetoPoint> points;
  points.reserve(ranked.size());
  for (const v1::Trial* t : ranked) points.push_back(objectives.Point(*t));
  std::vector<ParetoRank> ranks;
  ParetoOrder(points, &ranks);
  std::vector<int> numbers(ranked.size(), 0);
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].tier < 2 && ranks[i].front >= 0) numbers[i] = ranks[i].front + 1;
  }
  return numbers;
}

}  // namespace deepevolve::genome
