#include "core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"

namespace tg {

namespace {
std::string lock_file(const std::string& dir) { return (std::filesystem::path(dir) / ".lock").string(); }
}  // namespace

RunLock::RunLock(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UserError(dir + ": cannot create directory: " + ec.message());
  const std::string path = lock_file(dir);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw UserError(path + ": cannot open lock file: " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {0};
    const ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "?";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw UserError(dir + ": in use by another tokengrow process (pid " + holder +
                    "); wait for it to finish or choose another output directory");
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    // The pid is only informational; the lock itself is held.
  }
  removed_temp_files_ = remove_temp_files_in(dir);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

bool has_lock_file(const std::string& dir) { return std::filesystem::exists(lock_file(dir)); }

void log_removed_temp_files(spdlog::logger& log, const std::vector<std::string>& removed) {
  if (removed.empty()) return;
  std::string names;
  for (const std::string& path : removed) names += (names.empty() ? "" : ", ") + path;
  log.info(line("removed ", removed.size(), " temporary file", removed.size() == 1 ? "" : "s",
                " left by an interrupted write: ", names));
}

}  // namespace tg
