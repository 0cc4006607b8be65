#include "master/ga/pbt.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "genome/genes.h"
#include "genome/genome.h"
#include "master/ga/operators.h"

namespace deepevolve::ga {
namespace {

double NumberOf(const genome::GeneValue& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return 0;
}

}  // namespace

const std::vector<absl::string_view>& PbtTrainingGenes() {
  static const auto* genes =
      new std::vector<absl::string_view>{genome::kGeneLearningRate, genome::kGeneDropout,
                                         genome::kGeneWeightDecay, genome::kGeneBatchSize};
  return *genes;
}

PbtStrategy::PbtStrategy(genome::SearchSpace space, PbtOptions options)
    : space_(std::move(space)),
      options_(options),
      rounds_(std::max(
          1, (options.epochs + options.ready_epochs - 1) / std::max(1, options.ready_epochs))) {
  for (absl::string_view name : PbtTrainingGenes()) {
    if (std::optional<int> g = space_.FindGene(name)) training_genes_.push_back(*g);
  }
  members_.resize(options_.population);
}

bool PbtStrategy::RoundReported() const {
  for (const MemberState& m : members_) {
    if (!m.fitness.has_value()) return false;
  }
  return true;
}

bool PbtStrategy::Done() const {
  return round_ == rounds_ && next_member_ > options_.population && RoundReported();
}

void PbtStrategy::BeginRound() {
  ++round_;
  next_member_ = 1;
  schedules_.clear();
  exploiters_.clear();
  sources_.clear();
  previous_ = members_;
  if (round_ == 1) return;
  // Worst first; a failed round, or one without a checkpoint to go on from, last of all.
  auto score = [](const MemberState& m) {
    return m.fitness->ok && m.fitness->resumable ? m.fitness->accuracy : -1.0;
  };
  std::vector<int> order(members_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i) + 1;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return score(members_[a - 1]) < score(members_[b - 1]); });
  const int n = static_cast<int>(order.size());
  int quantile = static_cast<int>(std::ceil(n * options_.quantile));
  quantile = std::min(quantile, n / 2);
  for (int i = 0; i < quantile; ++i) exploiters_.insert(order[i]);
  for (int m = 1; m <= n; ++m) {
    if (score(members_[m - 1]) < 0) exploiters_.insert(m);
  }
  // The top quantile that can be copied; failing that, the best that can.
  for (int i = n - quantile; i < n; ++i) {
    if (score(members_[order[i] - 1]) >= 0 && exploiters_.count(order[i]) == 0) {
      sources_.push_back(order[i]);
    }
  }
  if (sources_.empty()) {
    for (int i = n - 1; i >= 0 && sources_.empty(); --i) {
      if (score(members_[order[i] - 1]) >= 0) sources_.push_back(order[i]);
    }
  }
  std::sort(sources_.begin(), sources_.end());
}

genome::Genome PbtStrategy::Explore(const genome::Genome& genome, absl::BitGenRef rng) const {
  genome::Genome out = genome;
  for (int g : training_genes_) {
    const int n = space_.num_values(g);
    const int current = out.choice[g];
    if (absl::Bernoulli(rng, options_.resample_probability)) {
      out.choice[g] = absl::Uniform<int>(rng, 0, n);
      continue;
    }
    const bool up = absl::Bernoulli(rng, 0.5);
    if (!IsOrderedNumeric(space_, g)) {
      out.choice[g] = std::clamp(current + (up ? 1 : -1), 0, n - 1);
      continue;
    }
    // The value nearest x1.2 (or x0.8), one step that way at least.
    const double target = NumberOf(space_.value(g, current)) * (up ? 1.2 : 0.8);
    const bool increasing = NumberOf(space_.value(g, n - 1)) > NumberOf(space_.value(g, 0));
    const int step = up == increasing ? 1 : -1;
    int best = current;
    for (int v = current + step; v >= 0 && v < n; v += step) {
      if (best == current || std::abs(NumberOf(space_.value(g, v)) - target) <
                                 std::abs(NumberOf(space_.value(g, best)) - target)) {
        best = v;
      }
    }
    out.choice[g] = best;
  }
  return genome::Canonical(space_, std::move(out));
}

absl::StatusOr<Candidate> PbtStrategy::MakeRound(int m, absl::BitGenRef rng) {
  Candidate c;
  c.generation = round_;
  c.round = Candidate::Round{m, 0, StopEpoch(round_)};
  if (round_ == 1) {
    GenomeSet seen;
    for (int k = 1; k < m; ++k) seen.insert(members_[k - 1].current.genome);
    ASSIGN_OR_RETURN(
        c.genome, MakeNovel(space_, FirstOrRandom(space_, options_.first, m - 1, rng), seen, rng));
    schedules_.insert({0, c.genome.choice});
    return c;
  }
  const MemberState& self = previous_[m - 1];
  const int start = StopEpoch(round_ - 1);
  auto take = [&](const MemberState& from, genome::Genome genome) {
    c.parents = {from.current.id, 0};
    c.round->start_epoch = start;
    c.genome = std::move(genome);
    schedules_.insert({from.current.id, c.genome.choice});
    return c;
  };
  if (exploiters_.count(m) == 0) return take(self, self.current.genome);
  // Exploit a top member and explore its genes; another top member, or explore again,
  // where the schedule is one this round has.
  constexpr int kTries = 16;
  for (int attempt = 0; attempt < kTries && !sources_.empty(); ++attempt) {
    const MemberState& source =
        previous_[sources_[absl::Uniform<size_t>(rng, 0, sources_.size())] - 1];
    genome::Genome explored = Explore(source.current.genome, rng);
    if (schedules_.count({source.current.id, explored.choice}) == 0) {
      return take(source, std::move(explored));
    }
  }
  if (self.fitness->ok && self.fitness->resumable) return take(self, self.current.genome);
  // Nothing to go on from: this round from the first epoch, under its genes (or new
  // ones where another member trains those).
  genome::Genome genome = self.current.genome;
  GenomeSet fresh;
  for (const auto& [from, genes] : schedules_) {
    if (from == 0) fresh.insert(genome::Genome{genes});
  }
  ASSIGN_OR_RETURN(c.genome, MakeNovel(space_, std::move(genome), fresh, rng));
  c.parents = {self.current.id, 0};
  schedules_.insert({0, c.genome.choice});
  return c;
}

Candidate PbtStrategy::Handed(Candidate c) {
  c.id = c.uid = next_id_++;
  MemberState& m = members_[c.round->member - 1];
  m.current = c;
  m.fitness.reset();
  ++next_member_;
  return c;
}

absl::StatusOr<std::vector<Candidate>> PbtStrategy::Next(int max_count, absl::BitGenRef rng) {
  std::vector<Candidate> out;
  while (static_cast<int>(out.size()) < max_count) {
    if (next_member_ > options_.population || round_ == 0) {
      if (round_ == rounds_ || (round_ > 0 && !RoundReported())) break;
      BeginRound();
    }
    // One draw of `rng` makes the trial, so that Adopt can take it back.
    std::mt19937_64 engine(absl::Uniform<uint64_t>(rng));
    ASSIGN_OR_RETURN(Candidate c, MakeRound(next_member_, engine));
    out.push_back(Handed(std::move(c)));
  }
  return out;
}

absl::Status PbtStrategy::Adopt(const Candidate& candidate, absl::BitGenRef rng) {
  if (next_member_ > options_.population || round_ == 0) {
    if (round_ == rounds_ || (round_ > 0 && !RoundReported())) {
      return absl::FailedPreconditionError(
          absl::StrCat("genome ", candidate.id, " is a round this search has not begun"));
    }
    BeginRound();
  }
  if (candidate.id != next_id_ || !candidate.round.has_value() ||
      candidate.round->member != next_member_ || candidate.generation != round_) {
    return absl::FailedPreconditionError(absl::StrCat("genome ", candidate.id, " is not round ",
                                                      round_, " of member ", next_member_));
  }
  // It goes on from a trial of the round before (or from the first epoch).
  const int64_t from = candidate.parents[0];
  bool known = round_ == 1 ? from == 0 : candidate.round->start_epoch == 0;
  for (const MemberState& m : previous_) known |= round_ > 1 && m.current.id == from;
  if (!known || candidate.round->stop_epoch != StopEpoch(round_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("genome ", candidate.id, " does not go on from a round this search trained"));
  }
  (void)absl::Uniform<uint64_t>(rng);  // what Next drew to make it
  schedules_.insert({candidate.round->start_epoch == 0 ? 0 : from, candidate.genome.choice});
  Handed(candidate);
  return absl::OkStatus();
}

absl::Status PbtStrategy::Report(int64_t id, const Fitness& fitness) {
  for (MemberState& m : members_) {
    if (m.current.id != id) continue;
    if (m.fitness.has_value()) {
      return absl::FailedPreconditionError(absl::StrCat("genome ", id, " already reported"));
    }
    m.fitness = fitness;
    return absl::OkStatus();
  }
  if (id >= 1 && id < next_id_) {
    return absl::FailedPreconditionError(
        absl::StrCat("genome ", id, " is a round its member has gone on from"));
  }
  return absl::NotFoundError(absl::StrCat("genome ", id, " was not handed out"));
}

std::vector<Member> PbtStrategy::Population() const {
  std::vector<Member> out;
  for (const MemberState& m : members_) {
    if (m.current.id != 0) out.push_back({m.current, m.fitness});
  }
  return out;
}

}  // namespace deepevolve::ga
