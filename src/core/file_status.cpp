#include "core/file_status.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace tg {

namespace {
// What a non-regular, non-directory file is, for the message.
std::string kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a plain file";
}

std::string problem_of_mode(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  if (!S_ISREG(mode)) return "not a regular file (" + kind_of(mode) + ")";
  return "";
}
}  // namespace

std::string regular_file_problem(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return "no such file";
    return std::string("cannot read: ") + std::strerror(errno);
  }
  return problem_of_mode(st.st_mode);
}

int open_regular_file(const std::string& path, const std::string& what) {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a
  // writer; it is cleared again before reading a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw UserError(path + ": no such file");
    throw UserError(path + ": cannot open " + what + ": " + std::strerror(errno));
  }
  auto fail = [&](const std::string& message) {
    ::close(fd);
    throw UserError(path + ": " + message);
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("cannot read " + what + ": " + std::strerror(errno));
  if (const std::string problem = problem_of_mode(st.st_mode); !problem.empty()) fail(problem + "; expected a " + what);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string read_regular_file(const std::string& path, const std::string& what, int64_t max_bytes) {
  const int fd = open_regular_file(path, what);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<int64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw UserError(path + ": " + what + " of " + std::to_string(st.st_size) + " bytes, more than the " +
                    std::to_string(max_bytes) + " this reads");
  }
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      throw UserError(path + ": cannot read " + what + ": " + reason);
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
    if (static_cast<int64_t>(bytes.size()) > max_bytes) {  // it grew while read
      ::close(fd);
      throw UserError(path + ": " + what + " of more than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return bytes;
}

}  // namespace tg
