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

// The finished trials of a results file, genomes.json or genomes.csv (by its name's
// end), to import into the ledger of a search over `space`: genes by name (a CSV's gene
// columns are the space's genes; a cell is the value of the gene whose text it is),
// accuracies, epochs, seconds and metrics (a CSV's other numeric columns). Rows that did
// not finish (pruned, failed, unfinished) are counted in `skipped`. NOT_FOUND when the
// file cannot be read; INVALID_ARGUMENT naming the file and the row that cannot be read.
struct FinishedTrials {
  std::vector<v1::ImportedTrial> trials;
  int skipped = 0;
};
absl::StatusOr<FinishedTrials> ReadFinishedTrials(const std::string& path,
                                                  const genome::SearchSpace& space);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_RESULTS_FILES_H_
