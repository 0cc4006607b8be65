// The order in which selection takes a population's members, best first: by
// Fitness::rank() for a search of accuracy alone, by NSGA-II's ranking (genome/pareto.h:
// front, then crowding distance) for one with several objectives or constraints.
#ifndef DEEPEVOLVE_MASTER_GA_SELECTION_H_
#define DEEPEVOLVE_MASTER_GA_SELECTION_H_

#include <cstdint>
#include <vector>

#include "genome/pareto.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga {

// Whether any of `members` carries objectives: the search ranks by Pareto front.
bool HasObjectives(const std::vector<const Fitness*>& members);

// A result as genome/pareto.h ranks it: its tier (trained, pruned, failed), violation and
// objectives; `id` breaks the last ties (the smaller first).
genome::ParetoPoint PointOf(const Fitness& fitness, int64_t id);

// Each member's place in the NSGA-II order (0: the best); ties of every key go to the
// earlier member. Members must all have a fitness.
std::vector<int> ParetoPositions(const std::vector<const Fitness*>& members);

}  // namespace deepevolve::ga

#endif  // DEEPEVOLVE_MASTER_GA_SELECTION_H_
