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
#include "common/status_macros.h"

namespace deepevolve::store {
namespace {

namespace fs = std::filesystem;

constexpr char kStagedPrefix[] = "staged-";

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("cannot ", what, " ", path, ": ", strerror(errno)));
}

absl::Status WriteAll(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
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
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path);
  absl::Status written = WriteAll(fd, data, path);
  if (written.ok() && sync_ && fdatasync(fd) != 0) written = Errno("sync", path);
  close(fd);
  if (!written.ok()) {
    Discard(path);
    return written;
  }
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
  const std::string path = PathOf(name);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<std::string>();
  if (fd < 0) return Errno("open", path);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Errno("read", path);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return std::make_optional(std::move(data));
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
