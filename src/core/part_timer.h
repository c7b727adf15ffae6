#pragma once
// Wall time per named part of a training step, for `tokengrow bench`.
//
// The Engine carries a pointer to one of these (null by default: then a PartScope
// is one branch and no clock read). Code times its own work with a PartScope naming its
// part (the callers own the names), so the breakdown needs no global state.
// Matmuls are synchronous (the engine waits on its stream), so a scope around a matmul
// measures the matmul itself.
//
// A timer made with track_memory also adds each scope's change in resident memory to its
// part: the pages the part touched first and still holds at its end (a free makes it
// negative). Two /proc reads per scope: for bench's measuring step, not its timed ones.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/memory_usage.h"

namespace tg {

class PartTimer {
 public:
  explicit PartTimer(bool track_memory = false) : track_memory_(track_memory) {}
  bool tracks_memory() const { return track_memory_; }

  // Adds to the part of that name (compared by content), made on first use.
  void add(std::string_view part, double seconds, int64_t resident_growth = 0) {
    size_t i = index_of(part);
    if (i == parts_.size()) {
      parts_.emplace_back(std::string(part), 0.0);
      growth_.push_back(0);
    }
    parts_[i].second += seconds;
    growth_[i] += resident_growth;
  }
  // Seconds of a part so far (0 for a part never timed).
  double seconds(std::string_view part) const {
    const size_t i = index_of(part);
    return i < parts_.size() ? parts_[i].second : 0.0;
  }
  // Bytes of resident memory a part gained so far (0 for a part never timed, or untracked).
  int64_t resident_growth(std::string_view part) const {
    const size_t i = index_of(part);
    return i < parts_.size() ? growth_[i] : 0;
  }
  // Every part timed so far, in the order first timed.
  const std::vector<std::pair<std::string, double>>& parts() const { return parts_; }
  // Every part back to 0 (names kept: no allocation while timing the next step).
  void reset() {
    for (auto& part : parts_) part.second = 0.0;
    for (int64_t& growth : growth_) growth = 0;
  }

 private:
  // The part's index, or parts_.size() for a part never timed.
  size_t index_of(std::string_view part) const {
    size_t i = 0;
    while (i < parts_.size() && parts_[i].first != part) ++i;
    return i;
  }

  bool track_memory_;
  std::vector<std::pair<std::string, double>> parts_;  // a handful: a linear search is enough
  std::vector<int64_t> growth_;                        // resident growth, parallel to parts_
};

// Adds the time from construction to destruction to `part` (no-op for a null timer).
// The name must outlive the scope (a string literal or a constant).
class PartScope {
 public:
  PartScope(PartTimer* timer, std::string_view part) : timer_(timer), part_(part) {
    if (!timer_) return;
    if (timer_->tracks_memory()) resident_at_start_ = resident_bytes();
    start_ = std::chrono::steady_clock::now();
  }
  ~PartScope() {
    if (!timer_) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    timer_->add(part_, seconds, timer_->tracks_memory() ? resident_bytes() - resident_at_start_ : 0);
  }
  PartScope(const PartScope&) = delete;
  PartScope& operator=(const PartScope&) = delete;

 private:
  PartTimer* timer_;
  std::string_view part_;
  std::chrono::steady_clock::time_point start_;
  int64_t resident_at_start_ = 0;
};

}  // namespace tg
