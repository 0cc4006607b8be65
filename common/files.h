// Whole files written once and read whole: the staging files of a directory that the
// master's file stores (models, checkpoints) and the workers sharing a checkpoint
// directory both write.
#ifndef DEEPEVOLVE_COMMON_FILES_H_
#define DEEPEVOLVE_COMMON_FILES_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace deepevolve {

// A file staged in a directory before it is moved into place under its own name starts
// so; whoever owns the directory may remove such files that were left behind.
inline constexpr char kStagedPrefix[] = "staged-";

// Creates `path` (it must not exist; owner only) holding `data`, synced to the disk with
// `sync`. UNAVAILABLE naming the path and the system's reason; nothing is left at
// `path` after a failure.
absl::Status WriteNewFile(const std::string& path, const std::string& data, bool sync);

// The whole file at `path`; none when there is no such file. UNAVAILABLE naming the
// path for any other failure.
absl::StatusOr<std::optional<std::string>> ReadWholeFile(const std::string& path);

}  // namespace deepevolve

#endif  // DEEPEVOLVE_COMMON_FILES_H_
