#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace deepevolve {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path, int error) {
  return absl::UnavailableError(absl::StrCat("cannot ", what, " ", path, ": ", strerror(error)));
}

}  // namespace

absl::Status WriteNewFile(const std::string& path, const std::string& data, bool sync) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path, errno);
  absl::Status written;
  for (size_t done = 0; written.ok() && done < data.size();) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      written = Errno("write", path, errno);
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (written.ok() && sync && fdatasync(fd) != 0) written = Errno("sync", path, errno);
  close(fd);
  if (!written.ok()) unlink(path.c_str());
  return written;
}

absl::StatusOr<std::optional<std::string>> ReadWholeFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<std::string>();
  if (fd < 0) return Errno("open", path, errno);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return Errno("read", path, error);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return std::make_optional(std::move(data));
}

}  // namespace deepevolve
