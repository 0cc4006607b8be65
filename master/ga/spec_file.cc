#include "master/ga/spec_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "genome/space.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace deepevolve {
namespace {

// Objects keep their keys in the order written: a space's genes are in that order.
using Json = nlohmann::ordered_json;

// A mapping key seen twice in the YAML (yaml-cpp keeps both; JSON objects cannot).
struct DuplicateKey {
  std::string key;
  int line;
};

// A YAML scalar as JSON, untyped: numbers and booleans where it reads as one.
Json ScalarToJson(const YAML::Node& node) {
  const std::string s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted in the YAML: a string
  int64_t i;
  double d;
  if (absl::SimpleAtoi(s, &i)) return i;
  if (absl::SimpleAtod(s, &d) && s.find_first_of("0123456789") != std::string::npos) return d;
  if (s == "true") return true;
  if (s == "false") return false;
  return s;
}

// YAML scalars carry no type, so the message the YAML describes gives it: a scalar
// meant for a string field is a string (`name: 2024`), for an enum its name, and
// elsewhere what it reads as. `field` is the field `node` is the value of (null at the
// top, `message` then being the message's type).
Json YamlToJson(const YAML::Node& node, const google::protobuf::Descriptor* message,
                const google::protobuf::FieldDescriptor* field, bool element) {
  using google::protobuf::FieldDescriptor;
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      const google::protobuf::Descriptor* type =
          field == nullptr ? message
          : field->type() == FieldDescriptor::TYPE_MESSAGE && !field->is_map()
              ? field->message_type()
              : nullptr;
      // Keys in the order written (a gene list's order is the grid's).
      Json j = Json::object();
      for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        if (j.contains(key)) throw DuplicateKey{key, kv.first.Mark().line + 1};
        const FieldDescriptor* f = nullptr;
        if (type != nullptr) {
          f = type->FindFieldByName(key);
          for (int i = 0; f == nullptr && i < type->field_count(); ++i) {
            if (type->field(i)->json_name() == key) f = type->field(i);
          }
        }
        j[key] = YamlToJson(kv.second, nullptr, f, false);
      }
      return j;
    }
    case YAML::NodeType::Sequence: {
      Json j = Json::array();
      for (const auto& item : node) {
        j.push_back(YamlToJson(
            item, nullptr, field != nullptr && field->is_repeated() && !element ? field : nullptr,
            true));
      }
      return j;
    }
    case YAML::NodeType::Scalar:
      if (field != nullptr && (field->type() == FieldDescriptor::TYPE_STRING ||
                               field->type() == FieldDescriptor::TYPE_ENUM)) {
        return node.Scalar();
      }
      return ScalarToJson(node);
    default:
      return nullptr;
  }
}

absl::Status BadGenes(const std::string& source, const std::string& field,
                      const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", field, ": ", problem));
}

// Refuses a key of `spec` not in `allowed`, naming it and saying what `spec` holds.
absl::Status OnlyKeys(const Json& spec, std::initializer_list<absl::string_view> allowed,
                      const std::string& source, const std::string& field,
                      absl::string_view holds) {
  for (const auto& [key, value] : spec.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return BadGenes(source, absl::StrCat(field, ".", key),
                      absl::StrCat("unknown key (", holds, ")"));
    }
  }
  return absl::OkStatus();
}

// The values of `{range: [min, max], step: n}`: integers from min to max by step.
absl::StatusOr<Json> ExpandRange(const Json& spec, const std::string& source,
                                 const std::string& field) {
  if (absl::Status keys = OnlyKeys(spec, {"range", "step"}, source, field,
                                   "a range has `range: [min, max]` and an optional `step`");
      !keys.ok()) {
    return keys;
  }
  const Json& range = spec["range"];
  if (!range.is_array() || range.size() != 2 || !range[0].is_number_integer() ||
      !range[1].is_number_integer()) {
    return BadGenes(source, absl::StrCat(field, ".range"), "must be [min, max], two integers");
  }
  const int64_t lo = range[0].get<int64_t>(), hi = range[1].get<int64_t>();
  if (lo > hi) {
    return BadGenes(source, absl::StrCat(field, ".range"),
                    absl::StrCat("min ", lo, " is above max ", hi));
  }
  int64_t step = 1;
  if (spec.contains("step")) {
    if (!spec["step"].is_number_integer() || spec["step"].get<int64_t>() < 1) {
      return BadGenes(source, absl::StrCat(field, ".step"), "must be an integer of at least 1");
    }
    step = spec["step"].get<int64_t>();
  }
  // Counted before anything is built: a range of a billion values is refused, not made.
  const uint64_t count =
      (static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo)) / static_cast<uint64_t>(step) + 1;
  if (count > static_cast<uint64_t>(genome::kMaxValuesPerGene)) {
    return BadGenes(source, field,
                    absl::StrCat("the range has ", count, " values, more than the ",
                                 genome::kMaxValuesPerGene, " a gene may have"));
  }
  Json values = Json::array();
  for (uint64_t i = 0; i < count; ++i) {
    values.push_back({{"intValue", lo + static_cast<int64_t>(i) * step}});
  }
  return values;
}

// The values of `{log_range: [min, max], points: n}`: n numbers from min to max evenly
// spaced on a log scale, each rounded to 3 significant digits (1e-4, 0.000178, ...).
absl::StatusOr<Json> ExpandLogRange(const Json& spec, const std::string& source,
                                    const std::string& field) {
  if (absl::Status keys = OnlyKeys(spec, {"log_range", "points"}, source, field,
                                   "a log range has `log_range: [min, max]` and `points`");
      !keys.ok()) {
    return keys;
  }
  const Json& range = spec["log_range"];
  if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number()) {
    return BadGenes(source, absl::StrCat(field, ".log_range"), "must be [min, max], two numbers");
  }
  const double lo = range[0].get<double>(), hi = range[1].get<double>();
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo <= 0) {
    return BadGenes(source, absl::StrCat(field, ".log_range"),
                    "both ends must be finite and above 0 (a log scale never reaches 0)");
  }
  if (lo >= hi) {
    return BadGenes(source, absl::StrCat(field, ".log_range"),
                    absl::StrCat("min ", range[0].dump(), " is not below max ", range[1].dump()));
  }
  if (!spec.contains("points") || !spec["points"].is_number_integer() ||
      spec["points"].get<int64_t>() < 2 ||
      spec["points"].get<int64_t>() > genome::kMaxValuesPerGene) {
    return BadGenes(source, absl::StrCat(field, ".points"),
                    absl::StrCat("must be an integer from 2 to ", genome::kMaxValuesPerGene));
  }
  const int64_t points = spec["points"].get<int64_t>();
  Json values = Json::array();
  double last = 0;
  for (int64_t i = 0; i < points; ++i) {
    const double exact = lo * std::pow(hi / lo, static_cast<double>(i) / (points - 1));
    const double rounded = std::stod(absl::StrFormat("%.3g", exact));
    if (i > 0 && rounded == last) {
      return BadGenes(source, absl::StrCat(field, ".points"),
                      absl::StrCat(points,
                                   " points are too many for this range: two of them "
                                   "round to ",
                                   rounded));
    }
    values.push_back({{"floatValue", rounded}});
    last = rounded;
  }
  return values;
}

// `genes: {name: [values...] or {range: ...}, ...}`, the form a person writes, as the
// `space` it stands for (genes in the order written).
absl::Status ExpandGenes(Json& spec, const std::string& source) {
  if (!spec.is_object() || !spec.contains("genes")) return absl::OkStatus();
  if (spec.contains("space")) {
    return BadGenes(source, "genes", "give the genes either as `genes` or as `space`, not both");
  }
  const Json& genes = spec["genes"];
  if (!genes.is_object() || genes.empty()) {
    return BadGenes(source, "genes",
                    "a mapping from each gene's name to its values, e.g. "
                    "{nb_layers: [1, 2, 3], nb_neurons: {range: [64, 512], step: 64}}");
  }
  Json out = Json::array();
  for (const auto& [name, value] : genes.items()) {
    const std::string field = absl::StrCat("genes.", name);
    Json values = Json::array();
    if (value.is_array()) {
      for (size_t i = 0; i < value.size(); ++i) {
        const Json& v = value[i];
        if (v.is_number_integer()) {
          values.push_back({{"intValue", v.get<int64_t>()}});
        } else if (v.is_number_float()) {
          values.push_back({{"floatValue", v.get<double>()}});
        } else if (v.is_string()) {
          values.push_back({{"stringValue", v.get<std::string>()}});
        } else if (v.is_boolean()) {  // batch_norm: [false, true]
          values.push_back({{"stringValue", v.get<bool>() ? "true" : "false"}});
        } else {
          return BadGenes(source, absl::StrCat(field, "[", i, "]"),
                          absl::StrCat(v.dump(),
                                       " is not a gene value (an integer, a number, a name or "
                                       "true/false)"));
        }
      }
    } else if (value.is_object() && value.contains("range")) {
      absl::StatusOr<Json> range = ExpandRange(value, source, field);
      if (!range.ok()) return range.status();
      values = *std::move(range);
    } else if (value.is_object() && value.contains("log_range")) {
      absl::StatusOr<Json> range = ExpandLogRange(value, source, field);
      if (!range.ok()) return range.status();
      values = *std::move(range);
    } else {
      return BadGenes(source, field,
                      "a list of values ([1, 2, 3], [relu, elu]), {range: [min, max], step: n} "
                      "or {log_range: [min, max], points: n}");
    }
    out.push_back({{"name", name}, {"values", std::move(values)}});
  }
  spec.erase("genes");
  spec["space"] = {{"genes", std::move(out)}};
  return absl::OkStatus();
}

}  // namespace

namespace {

absl::StatusOr<v1::SearchSpec> ParseSpecOrThrow(const std::string& text,
                                                const std::string& source) {
  Json doc;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded())
      return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  } else {
    try {
      doc = YamlToJson(YAML::Load(text), v1::SearchSpec::descriptor(), nullptr, false);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
    } catch (const DuplicateKey& d) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", d.line, ": '", d.key, "' is given twice"));
    }
  }
  if (absl::Status expanded = ExpandGenes(doc, source); !expanded.ok()) return expanded;
  v1::SearchSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(doc.dump(), &spec, options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message().as_string()));
  }
  return spec;
}

}  // namespace

absl::StatusOr<v1::SearchSpec> ParseSearchSpec(const std::string& text, const std::string& source) {
  // YAML takes any bytes in a string; JSON text must be UTF-8, and the JSON library
  // throws when it writes what is not.
  try {
    return ParseSpecOrThrow(text, source);
  } catch (const nlohmann::json::exception& e) {
    if (e.id == 316) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": holds bytes that are not UTF-8 text"));
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

absl::StatusOr<v1::SearchSpec> LoadSearchSpecFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read spec file '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseSearchSpec(text.str(), path);
}

}  // namespace deepevolve
