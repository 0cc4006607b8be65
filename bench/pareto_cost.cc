// What ranking by Pareto front costs the master per result: a search of several
// objectives ranks all its results again when one arrives (SearchRun::ParetoRanking),
// under the master's lock. Times genome::ParetoOrder on N results of M objectives, the
// values a trade-off (better in one objective, worse in the others, with noise), and
// prints the median and the 90th percentile of `repeats` runs as JSON.
//
//   build/bench/pareto_cost --results 5000 --objectives 2 --repeats 21
#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "genome/pareto.h"

int main(int argc, char** argv) {
  CLI::App app{"pareto_cost: milliseconds to rank N results by Pareto front"};
  int results = 5000, objectives = 2, repeats = 21;
  double infeasible = 0.1;
  app.add_option("--results", results, "results ranked")->capture_default_str();
  app.add_option("--objectives", objectives, "objectives (1 to 4)")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs")->capture_default_str();
  app.add_option("--infeasible", infeasible, "share of results that break a constraint")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0, 0.05);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<deepevolve::genome::ParetoPoint> points(results);
  for (int i = 0; i < results; ++i) {
    deepevolve::genome::ParetoPoint& p = points[i];
    p.id = i + 1;
    const double quality = unit(rng);
    // The first objective rises with quality, the others fall: a front to find.
    p.values.push_back(quality + noise(rng));
    for (int m = 1; m < objectives; ++m) p.values.push_back(-quality * unit(rng) + noise(rng));
    if (unit(rng) < infeasible) p.violation = unit(rng);
  }
  std::vector<double> ms;
  size_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<size_t> order = deepevolve::genome::ParetoOrder(points);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
    checksum += order.front();
  }
  std::sort(ms.begin(), ms.end());
  std::cout << absl::StrFormat(
      "{\"results\": %d, \"objectives\": %d, \"median_ms\": %.3f, \"p90_ms\": %.3f, "
      "\"first\": %d}\n",
      results, objectives, ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)],
      checksum / repeats);
  return 0;
}
