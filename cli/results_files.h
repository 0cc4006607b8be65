// The results files of a search run on this machine (`deepevolve local`), written and
// read here only: DIR/genomes.csv, one row per genome, the genes' columns and then
// ga::ResultColumns() (by which `deepevolve sim` reads it as a fitness table), and
// DIR/genomes.json, the same genomes as objects (which `deepevolve retrain` reads).
#ifndef DEEPEVOLVE_CLI_RESULTS_FILES_H_
#define DEEPEVOLVE_CLI_RESULTS_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/space.h"
#include "nlohmann/json.hpp"

namespace deepevolve::cli {

// Every trial of the search, in the order given (creation order), to both files. `ranked`
// is the master's leaderboard (best first): genomes.json gives each genome on it its
// "rank" (1 for the best), so that a reader need not rank results again.
void WriteResults(const genome::SearchSpace& space, const std::vector<v1::Trial>& trials,
                  const std::vector<v1::Trial>& ranked, const std::string& dir);

// genomes.json's array. NOT_FOUND when DIR has none; INVALID_ARGUMENT when it is not an
// array.
absl::StatusOr<nlohmann::json> ReadGenomesJson(const std::string& dir);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_RESULTS_FILES_H_
