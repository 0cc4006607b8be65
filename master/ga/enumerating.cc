#include "master/ga/enumerating.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace deepevolve::ga {

EnumeratingStrategy::EnumeratingStrategy(genome::SearchSpace space, Order order, int64_t trials,
                                         std::vector<genome::Genome> first)
    : space_(std::move(space)),
      order_(order),
      planned_(
          static_cast<int64_t>(std::min<uint64_t>(static_cast<uint64_t>(trials), space_.size()))),
      first_(std::move(first)) {}

std::vector<Member> EnumeratingStrategy::Population() const { return members_; }

absl::StatusOr<std::vector<Candidate>> EnumeratingStrategy::Next(int max_count,
                                                                 absl::BitGenRef rng) {
  std::vector<Candidate> out;
  while (static_cast<int>(out.size()) < max_count && next_id_ <= planned_) {
    Candidate c;
    if (order_ == Order::kGrid) {
      c.genome = GridGenome(space_, static_cast<uint64_t>(next_id_ - 1));
    } else {
      // Redraw while the draw was seen; a nearly used-up space falls back to MakeNovel,
      // which picks among the unseen genomes.
      genome::Genome genome = FirstOrRandom(space_, first_, next_id_ - 1, rng);
      for (int i = 0; i < 64 && seen_.contains(genome); ++i) genome = RandomGenome(space_, rng);
      ASSIGN_OR_RETURN(c.genome, MakeNovel(space_, std::move(genome), seen_, rng));
      seen_.insert(c.genome);
    }
    c.id = c.uid = next_id_++;
    members_.push_back(Member{c, std::nullopt});
    out.push_back(std::move(c));
  }
  return out;
}

absl::Status EnumeratingStrategy::Report(int64_t id, const Fitness& fitness) {
  if (id < 1 || id >= next_id_) {
    return absl::NotFoundError(absl::StrCat("genome ", id, " was not handed out"));
  }
  Member& m = members_[id - 1];
  if (m.fitness.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("genome ", id, " already reported"));
  }
  m.fitness = fitness;
  ++reported_;
  return absl::OkStatus();
}

}  // namespace deepevolve::ga
