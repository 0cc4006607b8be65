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

// A YAML scalar as JSON, untyped: numbers and booleans where it reads as one.
nlohmann::json ScalarToJson(const YAML::Node& node) {
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
nlohmann::json YamlToJson(const YAML::Node& node, const google::protobuf::Descriptor* message,
                          const google::protobuf::FieldDescriptor* field, bool element) {
  using google::protobuf::FieldDescriptor;
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      const google::protobuf::Descriptor* type =
          field == nullptr ? message
          : field->type() == FieldDescriptor::TYPE_MESSAGE && !field->is_map()
              ? field->message_type()
              : nullptr;
      nlohmann::json j = nlohmann::json::object();
      for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
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
      nlohmann::json j = nlohmann::json::array();
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

}  // namespace

absl::StatusOr<v1::SearchSpec> ParseSearchSpec(const std::string& text, const std::string& source) {
  std::string json;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    json = text;
  } else {
    try {
      json = YamlToJson(YAML::Load(text), v1::SearchSpec::descriptor(), nullptr, false).dump();
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
