#pragma once
// An exclusive lock on a run or experiment directory (flock on <dir>/.lock), held
// for the lifetime of the object. A second process writing the same directory
// gets a clear error instead of interleaving checkpoints and logs. The kernel
// drops the lock when the process dies, so a killed run never leaves it stale.
#include <string>

namespace tg {

class RunLock {
 public:
  // Creates dir if needed; throws UserError if another process holds the lock.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace tg
