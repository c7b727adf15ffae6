#pragma once
// What a run does about non-finite steps. A step whose loss or gradient norm is not
// finite makes no update and is counted (TrainState::skipped_steps); after
// train.max_bad_steps of them in a row the run either stops with an error
// (on_divergence "stop") or rolls back to its last checkpoint and scales the LR by
// rollback_lr_factor from then on (on_divergence "rollback").
#include <cstdint>
#include <ostream>
#include <string>

#include "train/run_config.h"
#include "train/train_state.h"

namespace tg {

class DivergenceGuard {
 public:
  DivergenceGuard(const TrainConfig& config, std::string run_dir);

  // A skipped step (the one after state.step): counts it in `state` and prints it.
  // Returns true when the run must roll back now; throws UserError when it must stop.
  bool bad_step(TrainState& state, bool loss_finite, std::ostream& out);
  void good_step() { in_a_row_ = 0; }

  // The state to continue from after rolling back to a checkpoint whose state is
  // `restored`: the skip and rollback counts go on from `failed`, the LR is scaled.
  TrainState rolled_back(const TrainState& failed, TrainState restored);
  // Why the last rollback happened: "3 consecutive non-finite steps at step 5".
  const std::string& reason() const { return reason_; }

 private:
  TrainConfig config_;
  std::string run_dir_;
  int64_t in_a_row_ = 0;
  std::string reason_;
};

}  // namespace tg
