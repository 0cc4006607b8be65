#include "genome/space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace deepevolve::genome {
namespace {

bool IsGeneName(absl::string_view name) {
  if (name.empty() || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsStringValue(absl::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// Checks one value of a trainable gene: type and range or membership.
absl::Status CheckTrainableValue(absl::string_view gene, const GeneValue& value,
                                 absl::string_view field) {
  const bool is_int = std::holds_alternative<int64_t>(value);
  auto check_names = [&](const std::vector<std::string>& known) -> absl::Status {
    if (!std::holds_alternative<std::string>(value)) {
      return Invalid(field, absl::StrCat("gene '", gene, "' takes names"));
    }
    const auto& name = std::get<std::string>(value);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Invalid(field, absl::StrCat("unknown ", gene, " '", name,
                                         "' (known: ", absl::StrJoin(known, ", "), ")"));
    }
    return absl::OkStatus();
  };
  auto check_range = [&](int64_t max) -> absl::Status {
    if (!is_int) return Invalid(field, absl::StrCat("gene '", gene, "' takes integers"));
    const int64_t v = std::get<int64_t>(value);
    if (v < 1 || v > max) {
      return Invalid(field, absl::StrCat(gene, " must be in [1, ", max, "], got ", v));
    }
    return absl::OkStatus();
  };
  // A number in [lo, hi], or (lo, hi] when `above_lo`.
  auto check_number = [&](double lo, bool above_lo, double hi) -> absl::Status {
    const auto* x = std::get_if<double>(&value);
    if (x == nullptr) return Invalid(field, absl::StrCat("gene '", gene, "' takes numbers"));
    if (!((above_lo ? *x > lo : *x >= lo) && *x <= hi)) {
      return Invalid(field, absl::StrCat(gene, " must be in ", above_lo ? "(" : "[", lo, ", ", hi,
                                         "], got ", GeneValueToString(value)));
    }
    return absl::OkStatus();
  };
  if (gene == kGeneDropout) return check_number(0, false, kMaxDropout);
  if (gene == kGeneLearningRate) return check_number(0, true, kMaxLearningRate);
  if (gene == kGeneActivation) return check_names(KnownActivations());
  if (gene == kGeneOptimizer) return check_names(KnownOptimizers());
  if (gene == kGeneNbNeurons) return check_range(kMaxNbNeurons);
  return check_range(kMaxNbLayers);
}

}  // namespace

const std::vector<std::string>& KnownActivations() {
  static const auto* names = new std::vector<std::string>{
      "relu", "elu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "linear"};
  return *names;
}

const std::vector<std::string>& KnownOptimizers() {
  static const auto* names = new std::vector<std::string>{"rmsprop",  "adam",   "sgd",  "adagrad",
                                                          "adadelta", "adamax", "nadam"};
  return *names;
}

std::string GeneValueToString(const GeneValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    char text[32];
    const std::to_chars_result r = std::to_chars(text, text + sizeof(text), *d);
    return std::string(text, r.ptr);
  }
  return std::get<std::string>(value);
}

GeneValue GeneValueFromProto(const v1::GeneValue& value) {
  if (value.value_case() == v1::GeneValue::kIntValue) return value.int_value();
  if (value.value_case() == v1::GeneValue::kFloatValue) return value.float_value();
  return value.string_value();
}

v1::GeneValue GeneValueToProto(const GeneValue& value) {
  v1::GeneValue proto;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    proto.set_int_value(*i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    proto.set_float_value(*d);
  } else {
    proto.set_string_value(std::get<std::string>(value));
  }
  return proto;
}

absl::StatusOr<SearchSpace> SearchSpace::Create(std::vector<Gene> genes, GeneNames names) {
  if (genes.empty()) return Invalid("space.genes", "a search space needs at least one gene");
  if (genes.size() > static_cast<size_t>(kMaxGenes)) {
    return Invalid("space.genes",
                   absl::StrCat("at most ", kMaxGenes, " genes, got ", genes.size()));
  }
  // The trainer's number genes take an integer as that number (`dropout: [0, 0.5]`), so
  // that 0 and 0.0 are one value.
  for (Gene& gene : genes) {
    if (names != GeneNames::kTrainable ||
        (gene.name != kGeneLearningRate && gene.name != kGeneDropout)) {
      continue;
    }
    for (GeneValue& value : gene.values) {
      if (const auto* i = std::get_if<int64_t>(&value)) value = static_cast<double>(*i);
    }
  }
  absl::flat_hash_set<std::string> gene_names;
  for (size_t g = 0; g < genes.size(); ++g) {
    const Gene& gene = genes[g];
    const std::string field = absl::StrCat("space.genes[", g, "]");
    if (gene.name.empty()) return Invalid(absl::StrCat(field, ".name"), "empty gene name");
    if (gene.name.size() > static_cast<size_t>(kMaxNameLength) || !IsGeneName(gene.name)) {
      return Invalid(absl::StrCat(field, ".name"),
                     absl::StrCat("'", gene.name.substr(0, kMaxNameLength),
                                  "' is not a gene name ([a-z][a-z0-9_]*, at most ", kMaxNameLength,
                                  " characters)"));
    }
    const bool trainable = gene.name == kGeneNbNeurons || gene.name == kGeneNbLayers ||
                           gene.name == kGeneActivation || gene.name == kGeneOptimizer ||
                           gene.name == kGeneLearningRate || gene.name == kGeneDropout;
    if (names == GeneNames::kTrainable && !trainable) {
      return Invalid(absl::StrCat(field, ".name"),
                     absl::StrCat("unknown gene '", gene.name,
                                  "' (known: nb_neurons, nb_layers, activation, optimizer, "
                                  "learning_rate, dropout)"));
    }
    if (!gene_names.insert(gene.name).second) {
      return Invalid(absl::StrCat(field, ".name"),
                     absl::StrCat("duplicate gene '", gene.name, "'"));
    }
    if (gene.values.empty()) {
      return Invalid(absl::StrCat(field, ".values"),
                     absl::StrCat("gene '", gene.name, "' has no values"));
    }
    if (gene.values.size() == 1) {
      return Invalid(absl::StrCat(field, ".values"),
                     absl::StrCat("gene '", gene.name,
                                  "' has one value; a gene needs at least two to mutate"));
    }
    if (gene.values.size() > static_cast<size_t>(kMaxValuesPerGene)) {
      return Invalid(
          absl::StrCat(field, ".values"),
          absl::StrCat("at most ", kMaxValuesPerGene, " values, got ", gene.values.size()));
    }
    absl::flat_hash_set<std::string> seen;
    for (size_t v = 0; v < gene.values.size(); ++v) {
      const GeneValue& value = gene.values[v];
      const std::string value_field = absl::StrCat(field, ".values[", v, "]");
      if (const auto* s = std::get_if<std::string>(&value)) {
        if (s->size() > static_cast<size_t>(kMaxStringValueLength) || !IsStringValue(*s)) {
          return Invalid(value_field,
                         absl::StrCat("'", s->substr(0, kMaxStringValueLength),
                                      "' is not a value name ([A-Za-z0-9_.-]+, at most ",
                                      kMaxStringValueLength, " characters)"));
        }
      }
      if (const auto* d = std::get_if<double>(&value); d != nullptr && !std::isfinite(*d)) {
        return Invalid(value_field, "a number value must be finite (not NaN or infinite)");
      }
      if (trainable && names == GeneNames::kTrainable) {
        if (absl::Status s = CheckTrainableValue(gene.name, value, value_field); !s.ok()) {
          return s;
        }
      }
      // Type-tagged so that 1 and "1" are different values.
      const std::string key = absl::StrCat(value.index(), ":", GeneValueToString(value));
      if (!seen.insert(key).second) {
        return Invalid(value_field, absl::StrCat("duplicate value '", GeneValueToString(value),
                                                 "' in gene '", gene.name, "'"));
      }
    }
  }

  SearchSpace space;
  space.genes_ = std::move(genes);
  space.alphabetical_.resize(space.genes_.size());
  std::iota(space.alphabetical_.begin(), space.alphabetical_.end(), 0);
  std::sort(space.alphabetical_.begin(), space.alphabetical_.end(),
            [&](int a, int b) { return space.genes_[a].name < space.genes_[b].name; });
  uint64_t size = 1;
  for (const Gene& gene : space.genes_) {
    const uint64_t n = gene.values.size();
    size = size > std::numeric_limits<uint64_t>::max() / n ? std::numeric_limits<uint64_t>::max()
                                                           : size * n;
  }
  space.size_ = size;
  return space;
}

absl::StatusOr<SearchSpace> SearchSpace::FromProto(const v1::GeneSpace& proto, GeneNames names) {
  std::vector<Gene> genes;
  genes.reserve(proto.genes_size());
  for (const v1::Gene& g : proto.genes()) {
    Gene gene{g.name(), {}};
    gene.values.reserve(g.values_size());
    for (int v = 0; v < g.values_size(); ++v) {
      if (g.values(v).value_case() == v1::GeneValue::VALUE_NOT_SET) {
        return Invalid(absl::StrCat("space.genes[", genes.size(), "].values[", v, "]"),
                       "value is neither an integer nor a name");
      }
      gene.values.push_back(GeneValueFromProto(g.values(v)));
    }
    genes.push_back(std::move(gene));
  }
  return Create(std::move(genes), names);
}

v1::GeneSpace SearchSpace::ToProto() const {
  v1::GeneSpace proto;
  for (const Gene& gene : genes_) {
    v1::Gene* g = proto.add_genes();
    g->set_name(gene.name);
    for (const GeneValue& value : gene.values) *g->add_values() = GeneValueToProto(value);
  }
  return proto;
}

std::optional<int> SearchSpace::FindGene(absl::string_view name) const {
  for (int g = 0; g < num_genes(); ++g) {
    if (genes_[g].name == name) return g;
  }
  return std::nullopt;
}

std::optional<int> SearchSpace::FindValue(int gene, const GeneValue& value) const {
  const auto& values = genes_[gene].values;
  for (int v = 0; v < static_cast<int>(values.size()); ++v) {
    if (values[v] == value) return v;
  }
  return std::nullopt;
}

}  // namespace deepevolve::genome
