// A master for fuzz targets: a real one on a database in a directory of its own, with
// a worker registered ("fuzz", incarnation 1) and a search to lease genomes of.
#ifndef DEEPEVOLVE_TESTS_FUZZ_FUZZ_MASTER_H_
#define DEEPEVOLVE_TESTS_FUZZ_FUZZ_MASTER_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "master/scheduler/master.h"

namespace deepevolve::fuzz {

class FuzzMaster {
 public:
  FuzzMaster() {
    dir_ = "/tmp/deepevolve-fuzz-" + std::to_string(getpid());
    mkdir(dir_.c_str(), 0700);
    const std::string db = dir_ + "/m.db";
    unlink(db.c_str());
    auto store = store::Store::Open(db, store::Durability::kProcess);
    if (!store.ok()) std::abort();
    master::MasterOptions options;
    options.max_genome_attempts = 1 << 30;  // failures reported by the fuzzer never end it
    auto m = master::Master::Create(std::move(*store), RealClock::Get(), options);
    if (!m.ok()) std::abort();
    master_ = std::move(*m);
    v1::RegisterRequest r;
    r.set_worker_id("fuzz");
    r.set_incarnation(1);
    if (!master_->Register(r).ok()) std::abort();
  }

  master::Master& master() { return *master_; }

  // A live lease of the worker's, submitting a new search when none is left.
  v1::Assignment Lease() {
    for (int attempt = 0; attempt < 2; ++attempt) {
      v1::AcquireRequest a;
      a.set_worker_id("fuzz");
      a.set_incarnation(1);
      auto response = master_->Acquire(a);
      if (response.ok() && response->has_assignment()) return response->assignment();
      v1::SearchSpec spec;
      spec.set_preset("fashion_mnist_mlp");
      spec.mutable_steady_state()->set_trials(400);
      spec.mutable_pruner()->mutable_asha();
      spec.set_seed(1);
      (void)master_->Submit(spec);
    }
    std::abort();
  }

 private:
  std::string dir_;
  std::unique_ptr<master::Master> master_;
};

}  // namespace deepevolve::fuzz

#endif  // DEEPEVOLVE_TESTS_FUZZ_FUZZ_MASTER_H_
