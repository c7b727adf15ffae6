#pragma once
// The progress line of a log point,
//   step 50/195 | loss 3.7176 | lr 2.00e-03 | 56445 tok/s | ETA 5s
// with tokens/s measured over the interval since the previous line.
#include <chrono>
#include <cstdint>
#include <string>

namespace tg {

// "42s", "3m07s", "2h05m".
std::string format_duration(double seconds);

class ProgressMeter {
 public:
  explicit ProgressMeter(int64_t tokens_per_step)
      : tokens_per_step_(tokens_per_step), interval_start_(std::chrono::steady_clock::now()) {}

  void step_taken() { interval_tokens_ += tokens_per_step_; }
  // The line for the step just taken (`step` of `end_step`), with the mean training
  // loss and LR of the interval.
  std::string line(int64_t step, int64_t end_step, double train_loss, double lr) const;
  // Starts the next interval (after the line and its validation were written).
  void restart();

 private:
  int64_t tokens_per_step_;
  int64_t interval_tokens_ = 0;
  std::chrono::steady_clock::time_point interval_start_;
};

}  // namespace tg
