// Reading a SearchSpec from a YAML or JSON file through protobuf's JSON mapping.
#ifndef DEEPEVOLVE_MASTER_GA_SPEC_FILE_H_
#define DEEPEVOLVE_MASTER_GA_SPEC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "deepevolve/v1/search.pb.h"

namespace deepevolve {

// Parses `text` (JSON, or YAML, which is turned into JSON first) into a SearchSpec,
// with the proto3 JSON field names (`preset`, `task.train_limit` or `trainLimit`,
// `generational.population`, ...). INVALID_ARGUMENT names `source` and the problem,
// including unknown fields.
absl::StatusOr<v1::SearchSpec> ParseSearchSpec(const std::string& text, const std::string& source);

// Reads and parses a spec file. NOT_FOUND when it cannot be read.
absl::StatusOr<v1::SearchSpec> LoadSearchSpecFile(const std::string& path);

}  // namespace deepevolve

#endif  // DEEPEVOLVE_MASTER_GA_SPEC_FILE_H_
