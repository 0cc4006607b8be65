#include "master/ga/selection.h"

namespace deepevolve::ga {

bool HasObjectives(const std::vector<const Fitness*>& members) {
  for (const Fitness* f : members) {
    if (!f->objectives.empty()) return true;
  }
  return false;
}

genome::ParetoPoint PointOf(const Fitness& f, int64_t id) {
  return {!f.ok ? 2 : f.pruned ? 1 : 0, f.violation, f.objectives, id};
}

std::vector<int> ParetoPositions(const std::vector<const Fitness*>& members) {
  std::vector<genome::ParetoPoint> points;
  points.reserve(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    // The member's index breaks the last ties: the earlier member first.
    points.push_back(PointOf(*members[i], static_cast<int64_t>(i)));
  }
  std::vector<int> positions(members.size());
  const std::vector<size_t> order = genome::ParetoOrder(points);
  for (size_t p = 0; p < order.size(); ++p) positions[order[p]] = static_cast<int>(p);
  return positions;
}

}  // namespace deepevolve::ga
