#include "genome/genome.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <variant>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/md5.h"

namespace deepevolve::genome {
namespace {

bool IsDeepEvolveName(const GeneValue& value) {
  const auto* s = std::get_if<std::string>(&value);
  // A name that starts or ends with a digit would blur into the numbers around it.
  return s != nullptr && !s->empty() && !std::isdigit(static_cast<unsigned char>(s->front())) &&
         !std::isdigit(static_cast<unsigned char>(s->back()));
}

}  // namespace

bool IsActive(const SearchSpace& space, const Genome& genome, int gene) {
  if (space.layer(gene) == 0) return true;
  const std::optional<int> layers = space.layers_gene();
  return space.layer(gene) <= space.LayersOf(layers.has_value() ? genome.choice[*layers] : 0);
}

Genome Canonical(const SearchSpace& space, Genome genome) {
  if (!space.has_layer_genes()) return genome;
  for (int g = 0; g < space.num_genes(); ++g) {
    if (!IsActive(space, genome, g)) genome.choice[g] = 0;
  }
  return genome;
}

NamedGenome ToNamedGenome(const SearchSpace& space, const Genome& genome) {
  NamedGenome assignment;
  assignment.reserve(space.num_genes());
  for (int g = 0; g < space.num_genes(); ++g) {
    if (!IsActive(space, genome, g)) continue;
    assignment.emplace_back(space.gene(g).name, space.value(g, genome.choice[g]));
  }
  return assignment;
}

uint64_t TrialSeed(uint64_t search_seed, const std::string& genome_hash) {
  const std::string digest = Md5Hex(absl::StrCat(search_seed, ":", genome_hash));
  return std::stoull(digest.substr(0, 15), nullptr, 16);
}

absl::StatusOr<Genome> FromNamedGenome(const SearchSpace& space, const NamedGenome& assignment) {
  Genome genome;
  genome.choice.assign(space.num_genes(), -1);
  for (const auto& [name, value] : assignment) {
    const std::optional<int> g = space.FindGene(name);
    if (!g) return absl::InvalidArgumentError(absl::StrCat("unknown gene '", name, "'"));
    std::optional<int> v = space.FindValue(*g, value);
    // An integer given for a number gene is that number, as in a spec file ([0, 0.5]).
    if (!v && std::holds_alternative<int64_t>(value)) {
      v = space.FindValue(*g, GeneValue(static_cast<double>(std::get<int64_t>(value))));
    }
    if (!v) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gene '", name, "': value '", GeneValueToString(value), "' is not in its list"));
    }
    genome.choice[*g] = *v;
  }
  // An inactive gene may be left out (ToNamedGenome leaves it out).
  const std::optional<int> layers = space.layers_gene();
  if (layers.has_value() && genome.choice[*layers] < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("gene '", space.gene(*layers).name, "' has no value"));
  }
  for (int g = 0; g < space.num_genes(); ++g) {
    if (genome.choice[g] < 0) {
      Genome probe = genome;
      probe.choice[g] = 0;
      if (IsActive(space, probe, g)) {
        return absl::InvalidArgumentError(
            absl::StrCat("gene '", space.gene(g).name, "' has no value"));
      }
      genome.choice[g] = 0;
    }
  }
  return Canonical(space, std::move(genome));
}

std::string IdentityString(const NamedGenome& assignment) {
  std::map<std::string, const GeneValue*> by_name;
  for (const auto& [name, value] : assignment) by_name[name] = &value;

  if (by_name.size() == 4 && assignment.size() == 4 && by_name.count("nb_neurons") &&
      by_name.count("nb_layers") && by_name.count("activation") && by_name.count("optimizer") &&
      std::holds_alternative<int64_t>(*by_name["nb_neurons"]) &&
      std::holds_alternative<int64_t>(*by_name["nb_layers"]) &&
      IsDeepEvolveName(*by_name["activation"]) && IsDeepEvolveName(*by_name["optimizer"])) {
    return absl::StrCat(
        GeneValueToString(*by_name["nb_neurons"]), GeneValueToString(*by_name["activation"]),
        GeneValueToString(*by_name["nb_layers"]), GeneValueToString(*by_name["optimizer"]));
  }

  std::string out = "dv1;";
  for (const auto& [name, value] : by_name) {
    if (const auto* i = std::get_if<int64_t>(value)) {
      absl::StrAppend(&out, name, "=i:", *i, ";");
    } else if (std::holds_alternative<double>(*value)) {
      absl::StrAppend(&out, name, "=f:", GeneValueToString(*value), ";");
    } else {
      const auto& s = std::get<std::string>(*value);
      absl::StrAppend(&out, name, "=s", s.size(), ":", s, ";");
    }
  }
  return out;
}

std::string GenomeHash(const NamedGenome& assignment) { return Md5Hex(IdentityString(assignment)); }

std::string ScheduleHash(const std::string& from_hash, const std::string& genes_hash,
                         int stop_epoch) {
  return Md5Hex(absl::StrCat("pbt1;", from_hash, ";", genes_hash, ";", stop_epoch));
}

std::string TrialIdentity(const NamedGenome& genome, const v1::TaskSpec& task, uint64_t seed) {
  return absl::StrCat(IdentityString(genome), "|", TaskIdentity(task), "|", seed);
}

std::string GenomeHash(const SearchSpace& space, const Genome& genome) {
  return GenomeHash(ToNamedGenome(space, genome));
}

std::string DescribeGenome(const SearchSpace& space, const Genome& genome) {
  std::vector<std::string> parts;
  parts.reserve(space.num_genes());
  for (int g = 0; g < space.num_genes(); ++g) {
    if (!IsActive(space, genome, g)) continue;
    parts.push_back(
        absl::StrCat(space.gene(g).name, "=", GeneValueToString(space.value(g, genome.choice[g]))));
  }
  return absl::StrJoin(parts, " ");
}

std::string TaskIdentity(const v1::TaskSpec& task) {
  // Every field is written, in a fixed order and with fixed formatting, so the same
  // task always gives the same text. Bump the version tag when the trainer's meaning
  // of a field changes.
  return absl::StrCat("task-v1;dataset=", task.dataset(), ";net=", v1::NetKind_Name(task.net()),
                      ";epochs=", task.epochs(), ";batch=", task.batch_size(),
                      ";validation=", v1::ValidationMode_Name(task.validation()),
                      ";validation_fraction=", task.validation_fraction(),
                      ";train_limit=", task.train_limit(), ";test_limit=", task.test_limit(),
                      ";min_delta=", task.early_stop_min_delta(),
                      ";patience=", task.early_stop_patience(), ";",
                      // Written only when set, so earlier tasks keep their identity.
                      task.restore_best_weights() ? "restore_best=1;" : "",
                      task.trainer().empty() ? "" : absl::StrCat("trainer=", task.trainer(), ";"));
}

absl::Status CheckTrainerName(absl::string_view trainer) {
  const size_t at = trainer.find('@');
  const absl::string_view name = trainer.substr(0, at);
  const absl::string_view version =
      at == absl::string_view::npos ? absl::string_view() : trainer.substr(at + 1);
  auto lower = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  auto plain = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  };
  const bool good_name = !name.empty() &&
                         name.size() <= static_cast<size_t>(kMaxTrainerNameLength) &&
                         lower(name[0]) && std::all_of(name.begin(), name.end(), [&](char c) {
                           return lower(c) || c == '_' || c == '.' || c == '-';
                         });
  const bool good_version =
      at == absl::string_view::npos ||
      (!version.empty() && version.size() <= static_cast<size_t>(kMaxTrainerVersionLength) &&
       std::all_of(version.begin(), version.end(), plain));
  if (good_name && good_version) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "'", trainer.substr(0, 80), "' is not a trainer's name: NAME or NAME@VERSION, the name of ",
      "lower-case letters, digits and _ . - (starting with a letter or digit, at most ",
      kMaxTrainerNameLength, "), the version of letters, digits and _ . - (at most ",
      kMaxTrainerVersionLength, ")"));
}

LedgerKey MakeLedgerKey(const SearchSpace& space, const Genome& genome, const v1::TaskSpec& task) {
  return LedgerKey{GenomeHash(space, genome), Md5Hex(TaskIdentity(task))};
}

absl::StatusOr<TrainerProgram> ParseTrainerFlag(absl::string_view flag) {
  const size_t eq = flag.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--trainer ", flag, ": expected NAME[@VERSION]=COMMAND"));
  }
  TrainerProgram p{std::string(flag.substr(0, eq)),
                   std::string(absl::StripAsciiWhitespace(flag.substr(eq + 1)))};
  if (absl::Status s = CheckTrainerName(p.name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--trainer: ", s.message()));
  }
  if (p.command.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--trainer ", p.name, ": no command"));
  }
  return p;
}

}  // namespace deepevolve::genome
