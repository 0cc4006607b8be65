#include "master/scheduler/worker_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace deepevolve::master {
namespace {

v1::RegisterRequest Registration(const std::string& id, int64_t incarnation,
                                 const std::string& device = "cpu") {
  v1::RegisterRequest r;
  r.set_worker_id(id);
  r.set_incarnation(incarnation);
  r.add_devices()->set_name(device);
  return r;
}

TEST(WorkerRegistryTest, ARegistrationReplacesThePreviousIncarnations) {
  WorkerRegistry workers;
  workers.Register(Registration("w1", 1), 100);
  workers.Register(Registration("w1", 2, "cuda:0"), 200);  // restarted
  EXPECT_FALSE(workers.Touch("w1", 1, 300));
  EXPECT_TRUE(workers.Touch("w1", 2, 300));
  ASSERT_EQ(workers.size(), 1);
  EXPECT_EQ(workers.List()[0].incarnation, 2);
  EXPECT_THAT(workers.List()[0].devices, ::testing::ElementsAre("cuda:0"));
}

TEST(WorkerRegistryTest, TouchAcceptsOnlyTheRegisteredIncarnationAndRecordsTheTime) {
  WorkerRegistry workers;
  EXPECT_FALSE(workers.Touch("w1", 1, 100));
  workers.Register(Registration("w1", 1), 100);
  EXPECT_FALSE(workers.Touch("w1", 2, 150));
  EXPECT_TRUE(workers.Touch("w1", 1, 300));
  EXPECT_EQ(workers.List()[0].last_seen_ms, 300);
}

TEST(WorkerRegistryTest, ListsWorkersById) {
  WorkerRegistry workers;
  workers.Register(Registration("w2", 1), 0);
  workers.Register(Registration("w1", 1), 0);
  std::vector<std::string> ids;
  for (const WorkerInfo& w : workers.List()) ids.push_back(w.worker_id);
  EXPECT_THAT(ids, ::testing::ElementsAre("w1", "w2"));
}

TEST(WorkerRegistryTest, SaysWhichTrainersItsWorkersOfferAndWhenNoneOffersOne) {
  WorkerRegistry workers;
  EXPECT_EQ(workers.Waiting(""),
            "no worker has registered (the search needs the built-in trainer)");
  v1::RegisterRequest programs_only = Registration("p", 1);
  programs_only.add_trainers("cnn@2");
  programs_only.add_trainers("toy");
  programs_only.set_no_builtin_trainer(true);
  workers.Register(programs_only, 0);
  const WorkerInfo* p = workers.Find("p");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->Offers("cnn@2"));
  EXPECT_FALSE(p->Offers("cnn"));  // names and versions match exactly
  EXPECT_FALSE(p->Offers(""));
  EXPECT_EQ(workers.Waiting("cnn@2"), "");
  EXPECT_EQ(workers.Waiting(""),
            "no registered worker offers the built-in trainer (workers offer: cnn@2, toy)");
  workers.Register(Registration("b", 1), 0);
  EXPECT_EQ(workers.Waiting(""), "");
  EXPECT_EQ(workers.Waiting("cnn@3"),
            "no registered worker offers trainer 'cnn@3' (workers offer: cnn@2, the built-in "
            "trainer, toy)");
  EXPECT_EQ(workers.Find("nobody"), nullptr);
}

TEST(WorkerRegistryTest, PinsANameWithoutAVersionToTheNewestVersionOffered) {
  WorkerRegistry workers;
  EXPECT_EQ(workers.Pin("cnn", 0, 1000), "cnn");  // nobody offers it yet
  v1::RegisterRequest a = Registration("a", 1);
  for (const char* t : {"cnn@1.9", "cnn@1.10-rc1", "cnn@01.10", "cnnx@9", "toy@b"}) {
    a.add_trainers(t);
  }
  workers.Register(a, 0);
  // Part by part, numbers as numbers (leading zeros ignored), a longer one after its prefix.
  EXPECT_EQ(workers.Pin("cnn", 0, 1000), "cnn@1.10-rc1");
  v1::RegisterRequest b = Registration("b", 1);
  b.add_trainers("toy@a");
  b.add_trainers("cnn@2");
  workers.Register(b, 0);
  EXPECT_EQ(workers.Pin("cnn", 0, 1000), "cnn@2");
  EXPECT_EQ(workers.Pin("toy", 0, 1000), "toy@b");  // text compares as text
  EXPECT_EQ(workers.Pin("cnn@1.9", 0, 1000), "cnn@1.9");
  EXPECT_EQ(workers.Pin("", 0, 1000), "");
  EXPECT_EQ(workers.Pin("other", 0, 1000), "other");
}

// Audit F19: a registration not seen for the active time chooses no version (a worker
// gone, or a stolen certificate used once to offer cnn@999).
TEST(WorkerRegistryTest, OnlyActiveWorkersChooseAVersion) {
  WorkerRegistry workers;
  v1::RegisterRequest stale = Registration("stale", 1);
  stale.add_trainers("cnn@999");
  workers.Register(stale, /*now_ms=*/0);
  v1::RegisterRequest live = Registration("live", 1);
  live.add_trainers("cnn@2");
  workers.Register(live, 0);
  EXPECT_EQ(workers.Pin("cnn", /*now_ms=*/500, /*active_ms=*/1000), "cnn@999");
  ASSERT_TRUE(workers.Touch("live", 1, 5000));
  EXPECT_EQ(workers.Pin("cnn", 5000, 1000), "cnn@2");
  EXPECT_EQ(workers.Pin("cnn", 9000, 1000), "cnn");  // nobody active: unpinned
}

}  // namespace
}  // namespace deepevolve::master
