#include "master/store/staged_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace deepevolve::store {
namespace {

namespace fs = std::filesystem;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("cannot ", what, " ", path, ": ", strerror(errno)));
}

}  // namespace

absl::StatusOr<StagedFiles> StagedFiles::Open(const std::string& dir, const std::string& what,
                                              bool sync) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Errno("create", dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is not a directory (the master keeps its ", what, " there)"));
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), kStagedPrefix)) {
      fs::remove(entry.path(), ec);
    }
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  return StagedFiles(dir, sync);
}

absl::StatusOr<std::string> StagedFiles::Stage(const std::string& data) {
  const std::string path =
      absl::StrCat(dir_, "/", kStagedPrefix, getpid(), "-", staged_.fetch_add(1));
  RETURN_IF_ERROR(WriteNewFile(path, data, sync_));
  return path;
}

absl::Status StagedFiles::Publish(const std::string& staged, const std::string& name) {
  const std::string path = PathOf(name);
  if (rename(staged.c_str(), path.c_str()) != 0) return Errno("rename a file to", path);
  return absl::OkStatus();
}

absl::Status StagedFiles::SyncDirectory() const {
  if (!sync_) return absl::OkStatus();
  const int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir_);
  const int synced = fsync(fd);
  close(fd);
  return synced == 0 ? absl::OkStatus() : Errno("sync", dir_);
}

absl::StatusOr<std::string> StagedFiles::Claim(const std::string& staged_name, int64_t max_bytes,
                                               int64_t* size) const {
  const bool plain = absl::StartsWith(staged_name, kStagedPrefix) && staged_name.size() <= 200 &&
                     std::all_of(staged_name.begin(), staged_name.end(), [](char c) {
                       return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                              c == '_' || c == '-';
                     });
  if (!plain) {
    return absl::InvalidArgumentError(
        absl::StrCat("shared_file: '", absl::CEscape(staged_name.substr(0, 64)),
                     "' is not a staging name (staged- and letters, digits, '.', '_' or '-')"));
  }
  const std::string path = PathOf(staged_name);
  struct stat file;
  if (lstat(path.c_str(), &file) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no file ", path));
    return Errno("stat", path);
  }
  if (!S_ISREG(file.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  if (file.st_size <= 0 || file.st_size > max_bytes) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds ", file.st_size, " bytes: a checkpoint is 1 to ", max_bytes));
  }
  if (sync_) {
    const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Errno("open", path);
    const int synced = fdatasync(fd);
    close(fd);
    if (synced != 0) return Errno("sync", path);
  }
  *size = file.st_size;
  return path;
}

void StagedFiles::Discard(const std::string& staged) { unlink(staged.c_str()); }

absl::Status StagedFiles::Remove(const std::string& name) {
  const std::string path = PathOf(name);
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> StagedFiles::Read(const std::string& name) const {
  return ReadWholeFile(PathOf(name));
}

std::vector<std::pair<std::string, int64_t>> StagedFiles::List() const {
  std::vector<std::pair<std::string, int64_t>> out;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kStagedPrefix)) continue;
    const uintmax_t size = entry.file_size(ec);
    out.emplace_back(name, ec ? 0 : static_cast<int64_t>(size));
  }
  return out;
}

}  // namespace deepevolve::store
