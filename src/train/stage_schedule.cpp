#include "train/stage_schedule.h"

#include <algorithm>

namespace tg {

double stage_peak_lr(const TrainConfig& config, double previous_peak_lr) {
  return config.lr_factor > 0 && previous_peak_lr > 0 ? config.lr_factor * previous_peak_lr : config.lr;
}

StageSchedule::StageSchedule(const TrainConfig& config, const TrainState& state)
    : global_(config.schedule == "global"), stage_start_(state.stage_start_step) {
  end_step_ = global_ ? std::max(config.global_steps, config.steps) : stage_start_ + config.steps;
  log_every_ = config.log_every;
  eval_every_ = config.eval_every > 0 ? config.eval_every : config.steps;
  checkpoint_every_ = config.checkpoint_every > 0 ? config.checkpoint_every : eval_every_;
  // min_lr scales with the stage's peak (a stage with lr_factor keeps the ratio).
  const double min_lr = config.lr > 0 ? config.min_lr * state.peak_lr / config.lr : config.min_lr;
  lr_ = LrSchedule{state.peak_lr, min_lr, config.warmup_steps, global_ ? end_step_ : config.steps};
}

}  // namespace tg
