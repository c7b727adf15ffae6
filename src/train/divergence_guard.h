#pragma once
// What a run does about non-finite steps. A step whose loss or gradient norm is not
// finite makes no update and is counted (TrainState::skipped_steps); after
// train.max_bad_steps of them in a row the run either stops with an error
// (on_divergence "stop") or rolls back (on_divergence "rollback"): it restores a
// checkpoint and scales the LR by rollback_lr_factor from then on.
//
// Which checkpoint: latest.h5; but when the previous rollback restored the point
// latest.h5 holds (the run diverged again from there, making no progress), the newest
// valid ckpt_<step>.h5 older than that point. After train.max_rollbacks rollbacks
// that do not get the run past the step where it diverged, or with no older
// checkpoint left, the run stops with an error. The count starts afresh once the run
// gets past that step (and with each process).
#include <cstdint>
#include <string>

#include <spdlog/logger.h>

#include "train/run_config.h"
#include "train/run_directory.h"
#include "train/train_state.h"

namespace tg {

class DivergenceGuard {
 public:
  // dir must outlive the guard.
  DivergenceGuard(const TrainConfig& config, const RunDirectory& dir);

  // A skipped step (the one after state.step): counts it in `state` and logs it as a
  // warning. Returns true when the run must roll back now; throws UserError when it
  // must stop.
  bool bad_step(TrainState& state, bool loss_finite, spdlog::logger& log);
  // A step was taken, reaching `step`.
  void step_taken(int64_t step);

  // The checkpoint to roll back to; throws UserError (the run stops) when rolling
  // back is not to be tried again.
  std::string rollback_target() const;
  // The state to continue from after restoring a checkpoint whose state is
  // `restored`: the skip and rollback counts go on from `failed`, the LR is scaled.
  TrainState rolled_back(const TrainState& failed, TrainState restored, const std::string& target);
  // Why the last rollback happened: "3 consecutive non-finite steps at step 5".
  const std::string& reason() const { return reason_; }

 private:
  [[noreturn]] void stop(const std::string& what) const;

  TrainConfig config_;
  const RunDirectory& dir_;
  int64_t in_a_row_ = 0;
  std::string reason_;
  // Since the run last got past a step where it diverged:
  int64_t diverged_at_ = 0;         // the furthest step that could not be taken (0: none)
  int64_t rollbacks_ = 0;           // rollbacks made
  int64_t restored_step_ = -1;      // the step the last of them restored
  std::string restored_path_;
};

}  // namespace tg
