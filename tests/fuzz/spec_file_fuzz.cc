// libFuzzer target: a spec file's text (YAML or JSON) through the CLI's reader, and
// what it yields through the master's own checks (ResolveSearchSpec).
#include <cstddef>
#include <cstdint>
#include <string>

#include "master/ga/spec.h"
#include "master/ga/spec_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<deepevolve::v1::SearchSpec> spec = deepevolve::ParseSearchSpec(text, "fuzz");
  if (spec.ok()) (void)deepevolve::ga::ResolveSearchSpec(*spec);
  return 0;
}
