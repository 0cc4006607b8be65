// The progress line `deepevolve watch` shows, folded from a search's events.
#ifndef DEEPEVOLVE_CLI_WATCH_PROGRESS_H_
#define DEEPEVOLVE_CLI_WATCH_PROGRESS_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "deepevolve/v1/service.pb.h"
#include "genome/pareto.h"
#include "master/ga/spec.h"

namespace deepevolve::cli {

// "1h02m", "3m05s", "12s".
inline std::string ShortDuration(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s / 60) % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// What `watch` shows: generation, a bar of genomes done out of planned, best so far,
// elapsed time and an ETA from the rate seen since the watch began.
// Thread-compatible.
class WatchProgress {
 public:
  explicit WatchProgress(int64_t search_id) : search_id_(search_id) {}

  void Start(const v1::SearchSummary& s) {
    Update(s);
    done_at_start_ = done_;
    epochs_ = s.spec().task().epochs();
    if (ga::IsMultiObjective(s.spec())) objectives_.emplace(s.spec());
    if (s.has_best()) {
      best_ = s.best().accuracy();
      best_genes_ = s.best().description();
    }
  }

  // Folds in an event; true when it finished a genome (trained, cached or given up).
  bool Add(const v1::Event& e) {
    if (e.has_search()) Update(e.search());
    const v1::Trial& t = e.trial();
    generation_ = std::max(generation_, t.genome().generation());
    if (e.kind() == v1::Event::GENERATION_DONE)
      generation_ = std::max(generation_, e.generation() + 1);
    const bool pruned = e.kind() == v1::Event::GENOME_PRUNED;
    const bool finished = e.kind() == v1::Event::GENOME_FINISHED ||
                          e.kind() == v1::Event::GENOME_CACHED || pruned ||
                          (e.kind() == v1::Event::GENOME_FAILED && t.state() == v1::TRIAL_FAILED);
    if (!finished) return false;
    // Watch replays the search's past events: a genome the summary at the start
    // already counted is not counted again.
    if (finished_.insert(t.genome().id()).second) {
      done_ = std::max(done_, static_cast<int64_t>(finished_.size()));
      if (pruned) {
        ++seen_pruned_;
        seen_saved_ += std::max(0, epochs_ - t.epochs_run());
      }
    }
    if (objectives_.has_value()) AddToFront(t);
    // The best is a genome that trained fully (a pruned one ranks below).
    if (t.error().empty() && !pruned && t.accuracy() > best_) {
      best_ = t.accuracy();
      best_genes_ = t.description();
    }
    last_ = absl::StrFormat(
        "last %s %s", t.genome().hash().substr(0, 8),
        !t.error().empty()                     ? std::string("failed")
        : e.kind() == v1::Event::GENOME_CACHED ? absl::StrFormat("%.4f (ledger)", t.accuracy())
        : pruned ? absl::StrFormat("%.4f (pruned at epoch %d)", t.accuracy(), t.epochs_run())
                 : absl::StrFormat("%.4f", t.accuracy()));
    return true;
  }

  int64_t done() const { return done_; }
  // Genomes finished since the watch began (what the ETA is reckoned from).
  int64_t seen() const { return done_ - done_at_start_; }

  std::string Line() const {
    const int64_t planned = std::max(planned_, done_);
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done_ / std::max<int64_t>(planned, 1));
    const absl::Duration elapsed = absl::Now() - start_;
    const int64_t seen = done_ - done_at_start_;
    const std::string eta =
        seen > 0 ? ShortDuration(elapsed / seen * (planned - done_)) : std::string("?");
    // Replayed events and summaries may each have counted a pruned genome first.
    const int64_t pruned = std::max(pruned_, seen_pruned_);
    const int64_t saved = std::max(saved_, seen_saved_);
    return absl::StrFormat(
        "search %d gen %d [%s%s] %d/%d genomes%s  %sbest %s %s  %s  elapsed %s  ETA %s", search_id_,
        generation_, std::string(filled, '#'), std::string(kWidth - filled, '.'), done_, planned,
        pruned > 0 ? absl::StrFormat(" (%d pruned, %d epochs saved)", pruned, saved) : "",
        objectives_.has_value() ? absl::StrFormat("front %d  ", front_.size()) : "",
        best_ < 0 ? "-" : absl::StrFormat("%.4f", best_), best_genes_, last_,
        ShortDuration(elapsed), eta);
  }

  // With several objectives: the genomes on the front so far (trained fully, feasible,
  // dominated by none of those seen).
  size_t front_size() const { return front_.size(); }

 private:
  // Keeps `t` on the front if nothing there dominates it, and drops what it dominates.
  void AddToFront(const v1::Trial& t) {
    genome::ParetoPoint p = objectives_->Point(t);
    if (p.tier != 0 || p.violation != 0) return;
    for (const auto& [id, values] : front_) {
      if (id == t.genome().id() || genome::Dominates(values, p.values)) return;
    }
    for (auto it = front_.begin(); it != front_.end();) {
      it = genome::Dominates(p.values, it->second) ? front_.erase(it) : std::next(it);
    }
    front_.emplace(t.genome().id(), std::move(p.values));
  }

  void Update(const v1::SearchSummary& s) {
    planned_ = s.trials_planned();
    done_ = std::max(done_, s.trials_done());
    generation_ = std::max(generation_, s.generation());
    pruned_ = std::max(pruned_, s.pruned());
    saved_ = std::max(saved_, s.epochs_saved());
  }

  const int64_t search_id_;
  const absl::Time start_ = absl::Now();
  int64_t planned_ = 0, done_ = 0, done_at_start_ = 0;
  int epochs_ = 0;  // each genome's, as the task says
  // Genomes pruned and the epochs they did not train, as summaries and events told.
  int64_t pruned_ = 0, saved_ = 0, seen_pruned_ = 0, seen_saved_ = 0;
  int generation_ = 0;
  double best_ = -1;
  std::string best_genes_, last_;
  absl::flat_hash_set<int64_t> finished_;  // genome ids
  std::optional<genome::Objectives> objectives_;
  std::map<int64_t, std::vector<double>> front_;  // genome id -> its objectives, oriented
};

}  // namespace deepevolve::cli

#endif  // DEEPEVOLVE_CLI_WATCH_PROGRESS_H_
