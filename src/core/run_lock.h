#pragma once
// An exclusive lock on a run or experiment directory (flock on <dir>/.lock), held
// for the lifetime of the object. A second process writing the same directory
// gets a clear error instead of interleaving checkpoints and logs. The kernel
// drops the lock when the process dies, so a killed run never leaves it stale.
//
// Once the lock is held, no other run writes in the directory (`train` and
// `experiment` hold the lock, `grow --out` into a directory that has a lock file
// takes it for its write: has_lock_file), so a temporary file of a durable write
// there (core/durable_file.h) is one a killed process left, and each can be a whole
// checkpoint: the lock removes them. (A command that takes no lock, such as
// `prepare --out` into a run directory, and writes there at that very instant loses
// its temporary file and fails with an error naming it.)
#include <string>
#include <vector>

#include <spdlog/logger.h>

namespace tg {

class RunLock {
 public:
  // Creates dir if needed; throws UserError if another process holds the lock
  // (naming its pid). Then removes the directory's leftover temporary files.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // The leftover temporary files removed when the lock was taken.
  const std::vector<std::string>& removed_temp_files() const { return removed_temp_files_; }

 private:
  int fd_ = -1;
  std::vector<std::string> removed_temp_files_;
};

// Whether `dir` is a run or experiment directory: it has the lock file (held or not).
bool has_lock_file(const std::string& dir);

// Logs one line naming `removed` (leftover temporary files), if any.
void log_removed_temp_files(spdlog::logger& log, const std::vector<std::string>& removed);

}  // namespace tg
