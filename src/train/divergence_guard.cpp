#include "train/divergence_guard.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "core/sealed_file.h"
#include "train/checkpoint.h"

namespace tg {

DivergenceGuard::DivergenceGuard(const TrainConfig& config, const RunDirectory& dir) : config_(config), dir_(dir) {}

bool DivergenceGuard::bad_step(TrainState& state, bool loss_finite, spdlog::logger& log) {
  ++state.skipped_steps;
  ++in_a_row_;
  log.warn(line("step ", state.step + 1, ": non-finite ", loss_finite ? "gradient" : "loss", ", skipped (", in_a_row_,
                " in a row, ", state.skipped_steps, " in all)"));
  if (in_a_row_ < config_.max_bad_steps) return false;
  reason_ = std::to_string(in_a_row_) + " consecutive non-finite steps at step " + std::to_string(state.step + 1);
  diverged_at_ = std::max(diverged_at_, state.step + 1);
  if (config_.on_divergence == "stop") stop("");
  return true;
}

void DivergenceGuard::step_taken(int64_t step) {
  in_a_row_ = 0;
  if (diverged_at_ == 0 || step < diverged_at_) return;
  diverged_at_ = 0;  // past the divergence: rolling back helped
  rollbacks_ = 0;
  restored_step_ = -1;
  restored_path_.clear();
}

std::string DivergenceGuard::rollback_target() const {
  if (rollbacks_ >= config_.max_rollbacks) {
    if (rollbacks_ == 0) stop(", and train.max_rollbacks is 0");
    stop(", after " + std::to_string(rollbacks_) + " rollbacks (train.max_rollbacks) that did not get the run past step " +
         std::to_string(diverged_at_) + ", the last to " + restored_path_ + " (step " + std::to_string(restored_step_) +
         ")");
  }
  const std::string latest = dir_.latest_path();
  if (restored_step_ < 0 || read_checkpoint_state(latest).step != restored_step_) return latest;
  // Diverged again from the point the last rollback restored: an older checkpoint.
  const auto stored = dir_.checkpoints();
  for (auto it = stored.rbegin(); it != stored.rend(); ++it)
    if (it->step < restored_step_ && seal_problem(it->path.string(), "checkpoint").empty()) return it->path.string();
  stop(" again after rolling back to " + restored_path_ + " (step " + std::to_string(restored_step_) +
       "), and no valid checkpoint older than step " + std::to_string(restored_step_) +
       " is left to fall back to (train.keep_checkpoints keeps more)");
}

TrainState DivergenceGuard::rolled_back(const TrainState& failed, TrainState restored, const std::string& target) {
  restored.skipped_steps = failed.skipped_steps;
  restored.rollbacks = failed.rollbacks + 1;
  restored.lr_scale = failed.lr_scale * config_.rollback_lr_factor;
  in_a_row_ = 0;
  ++rollbacks_;
  restored_step_ = restored.step;
  restored_path_ = target;
  return restored;
}

void DivergenceGuard::stop(const std::string& what) const {
  throw UserError(dir_.path() + ": training diverged: " + reason_ + what +
                  "; lower train.lr or raise train.warmup_steps");
}

}  // namespace tg
