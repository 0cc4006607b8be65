// Drives a strategy to completion with a fitness function and records what it trained.
#ifndef DEEPEVOLVE_TESTS_MASTER_GA_FAKE_FITNESS_H_
#define DEEPEVOLVE_TESTS_MASTER_GA_FAKE_FITNESS_H_

#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "master/ga/strategy.h"

namespace deepevolve::ga::testing {

struct Trained {
  Candidate candidate;
  Fitness fitness;
};

// Runs `strategy` with `workers` trainers that finish in a seeded random order.
// `after_report` is called after every report (for invariants).
inline std::vector<Trained> RunToCompletion(
    Strategy& strategy, const std::function<Fitness(const genome::Genome&)>& fitness, uint64_t seed,
    int workers = 1, const std::function<void()>& after_report = [] {}) {
  std::mt19937_64 rng(seed);
  std::vector<Candidate> running;
  std::vector<Trained> trained;
  for (int step = 0; step < 1000000 && !strategy.Done(); ++step) {
    if (static_cast<int>(running.size()) < workers) {
      auto next = strategy.Next(workers - static_cast<int>(running.size()), rng);
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok()) break;
      for (Candidate& c : *next) running.push_back(std::move(c));
    }
    if (running.empty() && strategy.Done()) break;  // the last Next found nothing to train
    if (running.empty()) {
      ADD_FAILURE() << "strategy waits with nothing in flight";
      break;
    }
    const size_t pick = std::uniform_int_distribution<size_t>(0, running.size() - 1)(rng);
    Candidate c = running[pick];
    running.erase(running.begin() + pick);
    const Fitness f = fitness(c.genome);
    EXPECT_TRUE(strategy.Report(c.id, f).ok());
    trained.push_back({std::move(c), f});
    after_report();
  }
  EXPECT_TRUE(strategy.Done());
  return trained;
}

}  // namespace deepevolve::ga::testing

#endif  // DEEPEVOLVE_TESTS_MASTER_GA_FAKE_FITNESS_H_
