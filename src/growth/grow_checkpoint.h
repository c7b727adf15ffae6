#pragma once
// Growth applied to checkpoint files: read C.h5, grow, validate before and after,
// write G.h5 (atomically). Shared by `tokengrow grow` and the experiment runner.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/engine.h"
#include "growth/grow.h"
#include "train/run_config.h"

namespace tg {

// A growth counts as exact (function-preserving) only when measured so: the
// validation loss moved by less than this, relative. Float rounding of an exact
// growth (zero keys, kept tau, L2 normalisations) is orders of magnitude smaller.
constexpr double kExactGrowthRelativeChange = 1e-6;

struct GrowReport {
  int64_t step = 0;
  int64_t tokens = 0;
  double flops = 0;
  double val_loss_before = 0;
  double val_loss_after = 0;
  ModelConfig from, to;
  std::vector<std::string> warnings, notes;

  double relative_change() const { return (val_loss_after - val_loss_before) / val_loss_before; }
  bool exact() const { return std::abs(relative_change()) < kExactGrowthRelativeChange; }
};

// next_train: the train section the grown checkpoint carries for its next stage
// (default: the source checkpoint's). data_path: corpus for the before/after
// validation (default: the checkpoint config's "data"). out_path must not exist:
// it is refused up front, and published only if no other process created it
// meanwhile (Publish::Exclusive), so two grows with one --out never both succeed.
GrowReport grow_checkpoint(Engine& engine, const std::string& from_path, const std::string& out_path,
                           const GrowthTarget& target, const GrowthOptions& options,
                           const std::optional<TrainConfig>& next_train = std::nullopt,
                           const std::string& data_path = "");

}  // namespace tg
