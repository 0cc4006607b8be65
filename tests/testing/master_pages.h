// The master's pages as lists, for tests that look at what a page holds: each call is
// one request message in and one response message out, as gRPC and HTTP make it.
#ifndef DEEPEVOLVE_TESTS_TESTING_MASTER_PAGES_H_
#define DEEPEVOLVE_TESTS_TESTING_MASTER_PAGES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "master/scheduler/master.h"

namespace deepevolve::testing {

// Leaderboard: the best `limit` trials, best first.
inline absl::StatusOr<std::vector<v1::Trial>> Top(master::Master& master, int64_t search_id,
                                                  int limit) {
  v1::LeaderboardRequest request;
  request.set_search_id(search_id);
  request.set_limit(limit);
  absl::StatusOr<v1::LeaderboardResponse> page = master.Leaderboard(request);
  if (!page.ok()) return page.status();
  return std::vector<v1::Trial>(page->trials().begin(), page->trials().end());
}

// ListTrials: a page after `after_genome_id`; `*next_after` continues it.
inline absl::StatusOr<std::vector<v1::Trial>> TrialsPage(master::Master& master, int64_t search_id,
                                                         int64_t after_genome_id, int limit,
                                                         int64_t* next_after) {
  v1::ListTrialsRequest request;
  request.set_search_id(search_id);
  request.set_after_genome_id(after_genome_id);
  request.set_page_size(limit);
  absl::StatusOr<v1::ListTrialsResponse> page = master.ListTrials(request);
  if (!page.ok()) return page.status();
  *next_after = page->next_after_genome_id();
  return std::vector<v1::Trial>(page->trials().begin(), page->trials().end());
}

// List: a page of searches below `before_id`; `*next_before` continues it.
inline absl::StatusOr<std::vector<v1::SearchSummary>> SearchesPage(master::Master& master,
                                                                   int64_t before_id, int limit,
                                                                   int64_t* next_before) {
  v1::ListRequest request;
  request.set_before_search_id(before_id);
  request.set_page_size(limit);
  absl::StatusOr<v1::ListResponse> page = master.List(request);
  if (!page.ok()) return page.status();
  *next_before = page->next_before_search_id();
  return std::vector<v1::SearchSummary>(page->searches().begin(), page->searches().end());
}

}  // namespace deepevolve::testing

#endif  // DEEPEVOLVE_TESTS_TESTING_MASTER_PAGES_H_
