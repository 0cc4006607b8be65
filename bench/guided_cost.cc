// What the guided strategy costs the master: the time of one Next (breed the candidates,
// fit the density model to every result so far, score, pick) and its Report, measured at
// growing numbers of results, on a space of 12 genes (integers, numbers and names, 8
// values each: 8^12 genomes; --genes and --values for others, up to the spec's limits of
// 32 and 256). Both calls run under the master's lock.
//
//   guided_cost [--history 100,1000,5000] [--samples 200] [--candidates 64] [--seed 1]
//               [--genes 12] [--values 8] [--objectives 1]
//
// With --objectives M (2 to 4), the search has M objectives: the fitness below, and
// M - 1 sizes that grow with the first genes' values (in conflict with it), so the
// model's good group is the first in Pareto order over every result, as a search of
// several objectives has it.
// Prints one JSON line per history size: milliseconds per genome handed out (Next and
// Report together), median, p90 and max over `samples` consecutive genomes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "genome/space.h"
#include "master/ga/guided.h"

namespace {

using deepevolve::genome::Gene;
using deepevolve::genome::GeneValue;

// `count` genes of `values` values each: integers, numbers and names in turn.
std::vector<Gene> Genes(int count, int values) {
  std::vector<Gene> genes;
  for (int g = 0; g < count; ++g) {
    Gene gene{absl::StrCat("gene_", g), {}};
    for (int v = 0; v < values; ++v) {
      switch (g % 3) {
        case 0:
          gene.values.emplace_back(int64_t{16} * (v + 1));
          break;
        case 1:
          gene.values.emplace_back(std::pow(10.0, -4 + 8.0 * v / values));
          break;
        default:
          gene.values.emplace_back(absl::StrCat("name", v));
          break;
      }
    }
    genes.push_back(std::move(gene));
  }
  return genes;
}

// A rugged but smooth-enough fitness: each gene has a best value, and pairs interact.
double Fitness(const deepevolve::genome::Genome& genome, int values) {
  double score = 0;
  for (size_t g = 0; g < genome.choice.size(); ++g) {
    const int v = genome.choice[g];
    const int best = static_cast<int>((g * 5 + 3) % values);
    score -= 0.02 * std::abs(v - best) * 8.0 / values;
    if (g > 0) score += 0.01 * (((v + genome.choice[g - 1]) % 3) == 0);
  }
  return std::clamp(0.9 + score / 4, 0.0, 1.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"guided_cost: the guided strategy's time per genome handed out"};
  std::string history_list = "100,1000,5000";
  int samples = 200, candidates = 64, gene_count = 12, values = 8, objectives = 1;
  uint64_t seed = 1;
  app.add_option("--history", history_list, "results before each measurement")
      ->capture_default_str();
  app.add_option("--samples", samples, "genomes timed at each size")->capture_default_str();
  app.add_option("--candidates", candidates, "guided.candidates")->capture_default_str();
  app.add_option("--seed", seed, "seed")->capture_default_str();
  app.add_option("--genes", gene_count, "genes in the space (the spec allows 32)")
      ->capture_default_str();
  app.add_option("--values", values, "values per gene (the spec allows 256)")
      ->capture_default_str();
  app.add_option("--objectives", objectives, "objectives (1 to 4)")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<int> sizes;
  for (absl::string_view s : absl::StrSplit(history_list, ','))
    sizes.push_back(std::stoi(std::string(s)));
  std::sort(sizes.begin(), sizes.end());

  auto space = deepevolve::genome::SearchSpace::Create(Genes(gene_count, values),
                                                       deepevolve::genome::GeneNames::kAny);
  if (!space.ok()) {
    std::fprintf(stderr, "%s\n", space.status().ToString().c_str());
    return 1;
  }
  deepevolve::ga::GuidedOptions options;
  options.candidates = candidates;
  options.trials = sizes.back() + samples + 1;
  deepevolve::ga::GuidedStrategy strategy(*space, options);
  std::mt19937_64 rng(seed);
  int64_t reported = 0;
  // One genome handed out and its result reported; returns the milliseconds it took.
  auto step = [&]() -> double {
    const auto start = std::chrono::steady_clock::now();
    auto next = strategy.Next(1, rng);
    if (!next.ok() || next->empty()) {
      std::fprintf(stderr, "no genome: %s\n", next.status().ToString().c_str());
      std::exit(1);
    }
    const deepevolve::ga::Candidate c = next->front();
    deepevolve::ga::Fitness fitness(true, Fitness(c.genome, values));
    if (objectives > 1) {
      fitness.objectives.push_back(fitness.accuracy);
      for (int m = 1; m < objectives; ++m) {
        // A size from gene m - 1 and the next: minimized, so negated.
        fitness.objectives.push_back(
            -(c.genome.choice[m - 1] + 0.5 * c.genome.choice[(m % gene_count)]));
      }
    }
    (void)strategy.Report(c.id, fitness);
    ++reported;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  for (int size : sizes) {
    while (reported < size) step();
    std::vector<double> ms;
    for (int i = 0; i < samples; ++i) ms.push_back(step());
    std::sort(ms.begin(), ms.end());
    std::printf(
        "{\"bench\": \"guided_cost\", \"history\": %d, \"candidates\": %d, \"genes\": %d, "
        "\"values\": %d, \"objectives\": %d, \"ms_median\": %.3f, \"ms_p90\": %.3f, "
        "\"ms_max\": %.3f, \"guided\": %lld}\n",
        size, candidates, gene_count, values, objectives, ms[ms.size() / 2], ms[ms.size() * 9 / 10],
        ms.back(), static_cast<long long>(strategy.guided_count()));
    std::fflush(stdout);
  }
  return 0;
}
