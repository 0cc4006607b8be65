#include "cli/watch_progress.h"

#include "gtest/gtest.h"
#include "tests/testing/objectives.h"

namespace deepevolve::cli {
namespace {

v1::Event Finished(int64_t genome_id, double accuracy) {
  v1::Event e;
  e.set_kind(v1::Event::GENOME_FINISHED);
  e.mutable_trial()->mutable_genome()->set_id(genome_id);
  e.mutable_trial()->mutable_genome()->set_hash("0123456789abcdef");
  e.mutable_trial()->set_accuracy(accuracy);
  e.mutable_trial()->set_state(v1::DONE);
  return e;
}

// A watch that starts on a search with progress replays its past events: they are not
// counted twice, and the ETA reckons only with genomes finished since.
TEST(WatchProgressTest, PastEventsAreNotCountedTwice) {
  v1::SearchSummary summary;
  summary.set_trials_planned(10);
  summary.set_trials_done(3);
  WatchProgress progress(7);
  progress.Start(summary);
  for (int64_t id = 1; id <= 3; ++id) EXPECT_TRUE(progress.Add(Finished(id, 0.5)));
  EXPECT_EQ(progress.done(), 3);
  EXPECT_EQ(progress.seen(), 0);
  EXPECT_TRUE(progress.Add(Finished(4, 0.8)));
  EXPECT_EQ(progress.done(), 4);
  EXPECT_EQ(progress.seen(), 1);
  EXPECT_NE(progress.Line().find("4/10 genomes"), std::string::npos) << progress.Line();
  EXPECT_NE(progress.Line().find("best 0.8000"), std::string::npos) << progress.Line();
}

// A pruned genome counts as done, shows with the epochs it saved, and is never the
// best however high its accuracy.
TEST(WatchProgressTest, PrunedGenomesAreCountedOnceAndNeverTheBest) {
  v1::SearchSummary summary;
  summary.set_trials_planned(10);
  summary.mutable_spec()->mutable_task()->set_epochs(4);
  summary.set_pruned(1);
  summary.set_epochs_saved(3);
  WatchProgress progress(7);
  progress.Start(summary);
  EXPECT_TRUE(progress.Add(Finished(1, 0.5)));
  v1::Event pruned = Finished(2, 0.9);
  pruned.set_kind(v1::Event::GENOME_PRUNED);
  pruned.mutable_trial()->set_state(v1::PRUNED);
  pruned.mutable_trial()->set_epochs_run(1);
  EXPECT_TRUE(progress.Add(pruned));  // the one the summary counted, replayed
  EXPECT_NE(progress.Line().find("(1 pruned, 3 epochs saved)"), std::string::npos)
      << progress.Line();
  pruned.mutable_trial()->mutable_genome()->set_id(3);
  pruned.mutable_trial()->set_epochs_run(3);
  EXPECT_TRUE(progress.Add(pruned));
  EXPECT_EQ(progress.done(), 3);
  EXPECT_NE(progress.Line().find("(2 pruned, 4 epochs saved)"), std::string::npos)
      << progress.Line();
  EXPECT_NE(progress.Line().find("best 0.5000"), std::string::npos) << progress.Line();
  EXPECT_NE(progress.Line().find("pruned at epoch 3"), std::string::npos) << progress.Line();
}

// With several objectives the line counts the front: genomes trained fully, keeping the
// constraints, dominated by none seen.
TEST(WatchProgressTest, WithSeveralObjectivesTheLineCountsTheFront) {
  v1::SearchSummary summary;
  summary.set_trials_planned(10);
  ::deepevolve::testing::AccuracyAgainstParams(*summary.mutable_spec());
  v1::Constraint* c = summary.mutable_spec()->add_constraints();
  c->set_metric("params");
  c->set_max(1000);
  WatchProgress progress(7);
  progress.Start(summary);
  auto finished = [](int64_t id, double accuracy, double params) {
    v1::Event e = Finished(id, accuracy);
    (*e.mutable_trial()->mutable_metrics())["params"] = params;
    return e;
  };
  progress.Add(finished(1, 0.8, 500));
  progress.Add(finished(2, 0.7, 100));   // smaller: on the front too
  progress.Add(finished(3, 0.6, 400));   // dominated by 2
  progress.Add(finished(4, 0.9, 5000));  // breaks the constraint
  EXPECT_EQ(progress.front_size(), 2u);
  progress.Add(finished(5, 0.85, 90));  // dominates both
  EXPECT_EQ(progress.front_size(), 1u);
  progress.Add(finished(5, 0.85, 90));  // replayed: nothing changes
  EXPECT_EQ(progress.front_size(), 1u);
  EXPECT_NE(progress.Line().find("front 1  best"), std::string::npos) << progress.Line();
}

}  // namespace
}  // namespace deepevolve::cli
