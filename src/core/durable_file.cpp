#include "core/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <utility>

#include "core/crash_point.h"
#include "core/error.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
void fsync_or_throw(const std::string& path, int flags, const std::string& what) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw UserError(path + ": cannot open to sync " + what + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw UserError(path + ": fsync failed (" + std::strerror(err) + "); the data may not be on disk");
}
}  // namespace

std::string temp_path_for(const std::string& final_path) { return final_path + ".tmp"; }

void discard_file(const std::string& tmp_path) noexcept {
  std::error_code ec;
  fs::remove(tmp_path, ec);
}

void publish_file(const std::string& tmp_path, const std::string& final_path) {
  try {
    fsync_or_throw(tmp_path, O_RDONLY, "file");
    crash_point("publish.before_rename");
    if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
      throw UserError(final_path + ": cannot replace with the new file: " + std::strerror(errno));
  } catch (...) {
    discard_file(tmp_path);
    throw;
  }
  crash_point("publish.after_rename");
  fs::path dir = fs::path(final_path).parent_path();
  if (dir.empty()) dir = ".";
  fsync_or_throw(dir.string(), O_RDONLY | O_DIRECTORY, "directory");
}

void write_file_durably(const std::string& path, std::string_view bytes) {
  const std::string tmp = temp_path_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw UserError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    discard_file(tmp);
    throw UserError(path + ": " + what + ": " + reason + " (disk full?); the previous file, if any, is untouched");
  };
  // Two halves, so the fault tests can kill the process with a half-written file.
  const size_t half = bytes.size() / 2;
  for (const auto& [from, to] : {std::pair<size_t, size_t>{0, half}, {half, bytes.size()}}) {
    if (from == half) crash_point("write.half_written");
    for (size_t done = from; done < to;) {
      const ssize_t n = ::write(fd, bytes.data() + done, std::min<size_t>(to - done, size_t{1} << 26));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write");
      done += static_cast<size_t>(n);
    }
  }
  if (::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    discard_file(tmp);
    throw UserError(path + ": cannot write: " + reason + " (disk full?); the previous file, if any, is untouched");
  }
  publish_file(tmp, path);
}

bool link_file_durably(const std::string& existing, const std::string& path) {
  const std::string tmp = temp_path_for(path);
  discard_file(tmp);
  if (::link(existing.c_str(), tmp.c_str()) != 0) {
    if (errno == EPERM || errno == EXDEV || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EMLINK) return false;
    throw UserError(path + ": cannot link to " + existing + ": " + std::strerror(errno));
  }
  publish_file(tmp, path);
  discard_file(tmp);  // rename leaves both names when they were already one file
  return true;
}

void remove_file_durably(const std::string& path) {
  std::error_code ec;
  if (!fs::remove(path, ec)) {
    if (ec) throw UserError(path + ": cannot remove: " + ec.message());
    return;
  }
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  fsync_or_throw(dir.string(), O_RDONLY | O_DIRECTORY, "directory");
}

}  // namespace tg
