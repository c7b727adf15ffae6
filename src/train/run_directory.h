#pragma once
// A run directory and what it holds:
//   .lock            held (flock) while a process trains here (core/run_lock.h)
//   latest.h5        the newest checkpoint: what `train --resume DIR` continues
//   ckpt_<step>.h5   checkpoints every train.checkpoint_every steps (the newest
//                    train.keep_checkpoints of them)
//   metrics.h5       the metrics log (train/metrics_log.h; metrics.journal while it grows)
//   train.log        every line the runs here printed, timestamped (core/log.h)
// and how a run starts in it: fresh, resumed, or a new stage from another checkpoint.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "core/run_lock.h"

namespace tg {

enum class RunStart {
  Fresh,     // no checkpoint: the model is initialised from the seed
  Resume,    // continues this directory's own checkpoint
  NewStage,  // a new stage from another checkpoint (e.g. a grown model)
};

struct StoredCheckpoint {
  int64_t step = 0;
  std::filesystem::path path;
};

// Where a run directory `dir` keeps its newest checkpoint and its metrics log, for
// readers that do not own the directory (an experiment's reports and stage chaining).
std::string latest_checkpoint_path(const std::string& dir);
std::string metrics_log_path(const std::string& dir);

// The ckpt_<step>.h5 files of a directory, oldest first.
std::vector<StoredCheckpoint> list_checkpoints(const std::string& dir);

// The checkpoint a run in `dir` resumes from: latest.h5, or, without it, the newest
// ckpt_<step>.h5 whose seal verifies; "" when there is neither. Takes no lock (the
// run, once locked, checks again).
std::string resume_point(const std::string& dir);

class RunDirectory {
 public:
  // Own: creates the directory if needed and locks it before anything in it is read;
  // the lock is held for the object's lifetime. Follow: the directory as a data-
  // parallel run's other ranks see it, which rank 0 owns: no lock, nothing created,
  // only read (a rollback's checkpoint).
  enum class Access { Own, Follow };
  explicit RunDirectory(const std::string& dir, Access access = Access::Own);

  const std::string& path() const { return path_; }
  std::string latest_path() const;
  std::string metrics_path() const;
  std::string log_path() const;
  std::string checkpoint_path(int64_t step) const;
  std::vector<StoredCheckpoint> checkpoints() const { return list_checkpoints(path_); }
  // The temporary files killed writes left here, removed when the lock was taken
  // (core/run_lock.h); none for Access::Follow.
  std::vector<std::string> removed_temp_files() const;

  // How a run given start_checkpoint ("" for none) starts here: it resumes when that
  // is the directory's resume_point(). A fresh start or a new stage in a directory
  // that holds a checkpoint is refused (UserError), so that none is ever overwritten.
  // Without a checkpoint, the metrics log decides. A start stopped before its first
  // checkpoint leaves at most a metrics.journal of one row (its first, logged just
  // before that checkpoint): nothing of it can be resumed, and it is removed. Any
  // other log (a metrics.h5, which only a run that trained writes, or a journal of
  // more rows) holds an earlier run's results whose checkpoints were removed, and
  // is refused as checkpoints are.
  RunStart prepare_start(const std::string& start_checkpoint, spdlog::logger& log) const;

 private:
  std::string path_;
  std::optional<RunLock> lock_;
};

}  // namespace tg
