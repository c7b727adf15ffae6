#include "train/progress_meter.h"

#include <algorithm>
#include <cstdio>

namespace tg {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}

std::string ProgressMeter::line(int64_t step, int64_t end_step, double train_loss, double lr) const {
  const double interval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - interval_start_).count();
  const double tok_per_s = static_cast<double>(interval_tokens_) / std::max(interval_s, 1e-9);
  const double eta = static_cast<double>((end_step - step) * tokens_per_step_) / std::max(tok_per_s, 1e-9);
  char text[256];
  std::snprintf(text, sizeof text, "step %ld/%ld | loss %.4f | lr %.2e | %.0f tok/s | ETA %s", static_cast<long>(step),
                static_cast<long>(end_step), train_loss, lr, tok_per_s, format_duration(eta).c_str());
  return text;
}

void ProgressMeter::restart() {
  interval_tokens_ = 0;
  interval_start_ = std::chrono::steady_clock::now();
}

}  // namespace tg
