#pragma once
// Wall time per named part of a training step, for `tokengrow bench`.
//
// The Engine carries a pointer to one of these (null by default: then a PartScope
// is one branch and no clock read). Code times its own work with a PartScope naming its
// part (the callers own the names), so the breakdown needs no global state.
// Matmuls are synchronous (the engine waits on its stream), so a scope around a matmul
// measures the matmul itself.
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg {

class PartTimer {
 public:
  // Adds to the part of that name (compared by content), made on first use.
  void add(std::string_view part, double seconds) {
    for (auto& [name, total] : parts_)
      if (name == part) {
        total += seconds;
        return;
      }
    parts_.emplace_back(std::string(part), seconds);
  }
  // Seconds of a part so far (0 for a part never timed).
  double seconds(std::string_view part) const {
    for (const auto& [name, total] : parts_)
      if (name == part) return total;
    return 0.0;
  }
  // Every part timed so far, in the order first timed.
  const std::vector<std::pair<std::string, double>>& parts() const { return parts_; }
  // Every part back to 0 (names kept: no allocation while timing the next step).
  void reset() {
    for (auto& part : parts_) part.second = 0.0;
  }

 private:
  std::vector<std::pair<std::string, double>> parts_;  // a handful: a linear search is enough
};

// Adds the time from construction to destruction to `part` (no-op for a null timer).
// The name must outlive the scope (a string literal or a constant).
class PartScope {
 public:
  PartScope(PartTimer* timer, std::string_view part) : timer_(timer), part_(part) {
    if (timer_) start_ = std::chrono::steady_clock::now();
  }
  ~PartScope() {
    if (timer_) timer_->add(part_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  PartScope(const PartScope&) = delete;
  PartScope& operator=(const PartScope&) = delete;

 private:
  PartTimer* timer_;
  std::string_view part_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tg
