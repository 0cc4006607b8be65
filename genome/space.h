// Search spaces: named genes, each with an ordered list of allowed values.
#ifndef DEEPEVOLVE_GENOME_SPACE_H_
#define DEEPEVOLVE_GENOME_SPACE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "deepevolve/v1/genome.pb.h"

namespace deepevolve::genome {

// One allowed value of a gene: an integer, a name or a (finite) number.
using GeneValue = std::variant<int64_t, std::string, double>;

// Decimal for integers, the name itself for strings, and for numbers the shortest
// decimal that reads back as the same double ("0.001", "3e-05"): their canonical text,
// which the identity hash uses.
std::string GeneValueToString(const GeneValue& value);
GeneValue GeneValueFromProto(const v1::GeneValue& value);
v1::GeneValue GeneValueToProto(const GeneValue& value);

struct Gene {
  std::string name;
  std::vector<GeneValue> values;
};

// Documented limits on a search space; a space beyond them is INVALID_ARGUMENT.
inline constexpr int kMaxGenes = 32;
inline constexpr int kMaxValuesPerGene = 256;
inline constexpr int kMaxNameLength = 64;         // gene names: [a-z][a-z0-9_]*
inline constexpr int kMaxStringValueLength = 64;  // string values: [A-Za-z0-9_.-]+

// Which gene names a space may use.
enum class GeneNames {
  // Only the genes the trainer builds networks from (genome/genes.h), with values it
  // takes. The default for searches.
  kTrainable,
  // Any well-formed name and value (fitness tables, simulations).
  kAny,
};

// An immutable, validated search space. Cheap to copy; thread-compatible.
class SearchSpace {
 public:
  // Validates `genes`. Returns INVALID_ARGUMENT whose message names the field
  // ("space.genes[1].values[2]: ...") for: no genes, an empty or duplicate gene name,
  // a malformed or (under kTrainable) unknown name, a gene with fewer than two values,
  // a duplicate value, a value of the wrong type or out of range, a layer's width that
  // no value of nb_layers reaches, or a count or length beyond the limits above.
  static absl::StatusOr<SearchSpace> Create(std::vector<Gene> genes,
                                            GeneNames names = GeneNames::kTrainable);
  static absl::StatusOr<SearchSpace> FromProto(const v1::GeneSpace& proto,
                                               GeneNames names = GeneNames::kTrainable);
  v1::GeneSpace ToProto() const;

  int num_genes() const { return static_cast<int>(genes_.size()); }
  const Gene& gene(int index) const { return genes_[index]; }
  const std::vector<Gene>& genes() const { return genes_; }
  int num_values(int gene) const { return static_cast<int>(genes_[gene].values.size()); }
  const GeneValue& value(int gene, int index) const { return genes_[gene].values[index]; }

  // Gene indices ordered by gene name: the order crossover cuts over.
  const std::vector<int>& alphabetical_order() const { return alphabetical_; }

  // The number of distinct genomes in the space, saturating at UINT64_MAX: genomes that
  // differ only in inactive genes (below) count once.
  uint64_t size() const { return size_; }

  // For a layer's own width (nb_neurons_<i> of a trainable space), i: the gene is active
  // only in genomes with at least i layers (nb_layers, 1 when the space lacks it). 0 for
  // every other gene, which is always active.
  int layer(int gene) const { return layer_[gene]; }
  bool has_layer_genes() const { return has_layer_genes_; }
  // The index of nb_layers in a trainable space that has layer genes.
  std::optional<int> layers_gene() const { return layers_gene_; }
  // The layers of value `index` of nb_layers; 1 when the space has no nb_layers gene.
  int64_t LayersOf(int index) const;

  std::optional<int> FindGene(absl::string_view name) const;
  std::optional<int> FindValue(int gene, const GeneValue& value) const;

 private:
  SearchSpace() = default;
  std::vector<Gene> genes_;
  std::vector<int> alphabetical_;
  std::vector<int> layer_;
  bool has_layer_genes_ = false;
  std::optional<int> layers_gene_;
  uint64_t size_ = 0;
};

}  // namespace deepevolve::genome

#endif  // DEEPEVOLVE_GENOME_SPACE_H_
