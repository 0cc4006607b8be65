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
#include "genome/genes.h"

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

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  return b != 0 && a > std::numeric_limits<uint64_t>::max() / b
             ? std::numeric_limits<uint64_t>::max()
             : a * b;
}

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max()
                                                      : a + b;
}

}  // namespace

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
  if (names == GeneNames::kTrainable) {
    for (Gene& gene : genes) {
      const GeneInfo* info = FindTrainerGene(gene.name);
      if (info == nullptr) continue;
      for (GeneValue& value : gene.values) value = CoerceTrainerValue(*info, std::move(value));
    }
  }
  std::vector<int> layer(genes.size(), 0);
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
    const GeneInfo* info =
        names == GeneNames::kTrainable ? FindTrainerGene(gene.name, &layer[g]) : nullptr;
    if (names == GeneNames::kTrainable && info == nullptr) {
      return Invalid(
          absl::StrCat(field, ".name"),
          absl::StrCat("unknown gene '", gene.name, "' (known: ", TrainerGeneNames(), ")"));
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
      if (info != nullptr) {
        if (absl::Status s = CheckTrainerValue(*info, value, value_field); !s.ok()) return s;
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
  space.layer_ = std::move(layer);
  space.has_layer_genes_ =
      std::any_of(space.layer_.begin(), space.layer_.end(), [](int l) { return l > 0; });
  if (space.has_layer_genes_) space.layers_gene_ = space.FindGene(kGeneNbLayers);
  int64_t most_layers = 1;
  if (space.layers_gene_.has_value()) {
    for (int v = 0; v < space.num_values(*space.layers_gene_); ++v) {
      most_layers = std::max(most_layers, space.LayersOf(v));
    }
  }
  for (size_t g = 0; g < space.genes_.size(); ++g) {
    if (space.layer_[g] > most_layers) {
      return Invalid(absl::StrCat("space.genes[", g, "].name"),
                     absl::StrCat("gene '", space.genes_[g].name, "' never shapes a network: ",
                                  space.layers_gene_.has_value() ? "nb_layers is at most "
                                                                 : "without nb_layers there is ",
                                  most_layers, space.layers_gene_.has_value() ? "" : " layer"));
    }
  }
  // Distinct genomes: for each number of layers, the genes active with it.
  uint64_t always = 1;
  for (size_t g = 0; g < space.genes_.size(); ++g) {
    if (space.layer_[g] == 0 && std::optional<int>(static_cast<int>(g)) != space.layers_gene_) {
      always = SaturatingMul(always, space.genes_[g].values.size());
    }
  }
  uint64_t size = 0;
  const int layer_values =
      space.layers_gene_.has_value() ? space.num_values(*space.layers_gene_) : 1;
  for (int v = 0; v < layer_values; ++v) {
    uint64_t with = 1;
    for (size_t g = 0; g < space.genes_.size(); ++g) {
      if (space.layer_[g] > 0 && space.layer_[g] <= space.LayersOf(v)) {
        with = SaturatingMul(with, space.genes_[g].values.size());
      }
    }
    size = SaturatingAdd(size, with);
  }
  space.size_ = SaturatingMul(always, size);
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

int64_t SearchSpace::LayersOf(int index) const {
  if (!layers_gene_.has_value()) return 1;
  return std::get<int64_t>(genes_[*layers_gene_].values[index]);
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
