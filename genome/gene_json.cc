#include "genome/gene_json.h"

#include <variant>

#include "absl/strings/str_cat.h"

namespace deepevolve::genome {

nlohmann::json GeneValueToJson(const GeneValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  if (const auto* d = std::get_if<double>(&value)) return *d;
  return std::get<std::string>(value);
}

nlohmann::json GeneValueToJson(const v1::GeneValue& value) {
  if (value.value_case() == v1::GeneValue::VALUE_NOT_SET) return nullptr;
  return GeneValueToJson(GeneValueFromProto(value));
}

nlohmann::json NamedGenomeToJson(const NamedGenome& genome) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, value] : genome) out[name] = GeneValueToJson(value);
  return out;
}

absl::StatusOr<GeneValue> GeneValueFromJson(const std::string& name, const nlohmann::json& value) {
  if (value.is_number_integer()) return GeneValue(value.get<int64_t>());
  if (value.is_number()) return GeneValue(value.get<double>());
  if (value.is_string()) return GeneValue(value.get<std::string>());
  return absl::InvalidArgumentError(
      absl::StrCat("gene '", name, "' is neither a number nor a name: ", value.dump()));
}

absl::StatusOr<NamedGenome> NamedGenomeFromJson(const nlohmann::json& genes) {
  if (!genes.is_object()) {
    return absl::InvalidArgumentError("genes: expected an object of name: value");
  }
  NamedGenome out;
  for (const auto& [name, value] : genes.items()) {
    absl::StatusOr<GeneValue> v = GeneValueFromJson(name, value);
    if (!v.ok()) return v.status();
    out.emplace_back(name, *std::move(v));
  }
  return out;
}

std::string GeneJsonText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

}  // namespace deepevolve::genome
