// CSV records as the CLI writes them (genomes.csv).
#ifndef DEEPEVOLVE_CLI_CSV_RECORD_H_
#define DEEPEVOLVE_CLI_CSV_RECORD_H_

#include <string>
#include <vector>

namespace deepevolve::cli {

// One record, without its line end: a cell holding a comma, a quote or a line break is
// quoted (RFC 4180, by libcsv), the others are written as they are.
std::string CsvRecord(const std::vector<std::string>& cells);

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_CSV_RECORD_H_
