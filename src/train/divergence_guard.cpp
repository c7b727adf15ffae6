#include "train/divergence_guard.h"

#include "core/error.h"

namespace tg {

DivergenceGuard::DivergenceGuard(const TrainConfig& config, std::string run_dir)
    : config_(config), run_dir_(std::move(run_dir)) {}

bool DivergenceGuard::bad_step(TrainState& state, bool loss_finite, std::ostream& out) {
  ++state.skipped_steps;
  ++in_a_row_;
  out << "step " << state.step + 1 << ": non-finite " << (loss_finite ? "gradient" : "loss") << ", skipped ("
      << in_a_row_ << " in a row, " << state.skipped_steps << " in all)" << std::endl;
  if (in_a_row_ < config_.max_bad_steps) return false;
  reason_ = std::to_string(in_a_row_) + " consecutive non-finite steps at step " + std::to_string(state.step + 1);
  if (config_.on_divergence == "stop")
    throw UserError(run_dir_ + ": training diverged: " + reason_ + "; lower train.lr or raise train.warmup_steps");
  return true;
}

TrainState DivergenceGuard::rolled_back(const TrainState& failed, TrainState restored) {
  restored.skipped_steps = failed.skipped_steps;
  restored.rollbacks = failed.rollbacks + 1;
  restored.lr_scale = failed.lr_scale * config_.rollback_lr_factor;
  in_a_row_ = 0;
  return restored;
}

}  // namespace tg
