#pragma once
// The stage a run is in: where it ends, its LR schedule and its grid of log,
// validation and checkpoint steps.
//   schedule "stage":  warmup + cosine over train.steps from the stage's first step
//   schedule "global": one warmup + cosine over max(global_steps, steps) from step 0
// A new stage's peak LR is train.lr, or lr_factor x the previous stage's peak.
#include <cstdint>

#include "train/lr_schedule.h"
#include "train/run_config.h"
#include "train/train_state.h"

namespace tg {

// The peak LR of a new stage that follows a stage with peak `previous_peak_lr` (0 for none).
double stage_peak_lr(const TrainConfig& config, double previous_peak_lr);

class StageSchedule {
 public:
  // For the stage `state` is in (its stage_start_step and peak_lr).
  StageSchedule(const TrainConfig& config, const TrainState& state);

  // The scheduled LR of the step taken from `step` (before any rollback scaling).
  double lr_at(int64_t step) const { return lr_.at(global_ ? step : step - stage_start_); }
  int64_t end_step() const { return end_step_; }
  // Whether the step just taken, reaching `step`, is a log, validation or checkpoint
  // point (every so many steps of the stage, and the stage's last step).
  bool log_point(int64_t step) const { return on_grid(step, log_every_); }
  bool eval_point(int64_t step) const { return on_grid(step, eval_every_); }
  bool checkpoint_point(int64_t step) const { return on_grid(step, checkpoint_every_); }

 private:
  bool on_grid(int64_t step, int64_t every) const { return (step - stage_start_) % every == 0 || step == end_step_; }

  bool global_;
  int64_t stage_start_, end_step_;
  int64_t log_every_, eval_every_, checkpoint_every_;
  LrSchedule lr_;
};

}  // namespace tg
