#include "common/spec_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace deepevolve {
namespace {

// YAML scalars carry no type; numbers and booleans become JSON numbers and booleans,
// and protobuf's JSON parser accepts either form where a string is meant.
nlohmann::json YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& kv : node) j[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& item : node) j.push_back(YamlToJson(item));
      return j;
    }
    case YAML::NodeType::Scalar: {
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
    default:
      return nullptr;
  }
}

}  // namespace

absl::StatusOr<v1::SearchSpec> ParseSearchSpec(const std::string& text, const std::string& source) {
  std::string json;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    json = text;
  } else {
    try {
      json = YamlToJson(YAML::Load(text)).dump();
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": not valid YAML: ", e.what()));
    }
  }
  v1::SearchSpec spec;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &spec, options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message().as_string()));
  }
  return spec;
}

absl::StatusOr<v1::SearchSpec> LoadSearchSpecFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read spec file '", path, "'"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseSearchSpec(text.str(), path);
}

}  // namespace deepevolve
