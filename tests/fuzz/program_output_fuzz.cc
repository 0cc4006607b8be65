// libFuzzer target: a trainer program's stdout through the worker's reader of the
// JSON-lines protocol, for a trial of 3 epochs whose master stops it at epoch 2.
#include <cstddef>
#include <cstdint>

#include "worker/daemon/program_trainer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const deepevolve::v1::Assignment* assignment = [] {
    auto* a = new deepevolve::v1::Assignment;
    a->set_lease_id(1);
    a->mutable_task()->set_trainer("toy@1");
    a->mutable_task()->set_epochs(3);
    return a;
  }();
  (void)deepevolve::worker::ReadProgramOutput(
      absl::string_view(reinterpret_cast<const char*>(data), size), *assignment,
      [](const deepevolve::worker::EpochProgress& e) {
        return e.epoch == 2 ? deepevolve::worker::AfterEpoch::kStop
                            : deepevolve::worker::AfterEpoch::kContinue;
      });
  return 0;
}
