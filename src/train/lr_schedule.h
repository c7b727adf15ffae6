#pragma once
// Linear warmup then cosine decay to a floor, over one stage of training:
//   step < warmup:  lr = peak * (step + 1) / warmup
//   otherwise:      lr = min + (peak - min) * 0.5 * (1 + cos(pi * progress)),
//                   progress = (step - warmup) / max(1, total - warmup), clamped to [0, 1]
// `step` counts from 0 within the stage.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tg {

struct LrSchedule {
  double peak_lr = 1e-3;
  double min_lr = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  double at(int64_t step) const {
    if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    const double progress = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
    return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  }
};

}  // namespace tg
