// Genes as JSON, one way everywhere: results files (genomes.json), the trial a trainer
// program reads, and a model file's metadata. A value is a JSON integer, real or
// string; an inactive gene has none (null, or left out of an object).
#ifndef DEEPEVOLVE_GENOME_GENE_JSON_H_
#define DEEPEVOLVE_GENOME_GENE_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "deepevolve/v1/genome.pb.h"
#include "genome/genome.h"
#include "genome/space.h"
#include "nlohmann/json.hpp"

namespace deepevolve::genome {

nlohmann::json GeneValueToJson(const GeneValue& value);
// null for a value that is not set (an inactive gene).
nlohmann::json GeneValueToJson(const v1::GeneValue& value);
// {"name": value, ...}.
nlohmann::json NamedGenomeToJson(const NamedGenome& genome);

// The value of a JSON integer, real or string; INVALID_ARGUMENT naming `name` for any
// other JSON.
absl::StatusOr<GeneValue> GeneValueFromJson(const std::string& name, const nlohmann::json& value);
// Every "name": value of a JSON object; INVALID_ARGUMENT for anything else.
absl::StatusOr<NamedGenome> NamedGenomeFromJson(const nlohmann::json& genes);

// A value as text: a string as it is, a number as JSON writes it.
std::string GeneJsonText(const nlohmann::json& value);

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_GENE_JSON_H_
