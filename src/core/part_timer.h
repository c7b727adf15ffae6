#pragma once
// Wall time per part of a training step, for `tokengrow bench`.
//
// The Engine carries a pointer to one of these (null by default: then a PartScope
// is one branch and no clock read). Layers time their own work with a PartScope,
// so the breakdown needs no global state. Matmuls are synchronous (the engine waits
// on its stream), so a scope around a matmul measures the matmul itself.
#include <array>
#include <chrono>
#include <cstddef>

namespace tg {

enum class Part {
  PattentionMatmul,  // the four matmuls of each Pattention (or Linear/MLP) forward/backward
  PattentionNorm,    // score normalisation (L2 norm, scale, GELU / softmax) and its backward
  Attention,         // causal attention: rotary, scores, softmax, P v and their backward
  Norms,             // LayerNorms
  Logits,            // tied output projection h E^T and its two backward matmuls
  Loss,              // softmax cross-entropy and its gradient
  Optimizer,         // gradient clipping and AdamW
  Other,             // embedding, residual adds, bf16 weight copies, zero_grad
  Count
};

constexpr std::array<const char*, static_cast<size_t>(Part::Count)> kPartNames = {
    "pattention_matmul", "pattention_norm", "attention", "norms", "logits", "loss", "optimizer", "other"};

class PartTimer {
 public:
  void add(Part part, double seconds) { seconds_[static_cast<size_t>(part)] += seconds; }
  double seconds(Part part) const { return seconds_[static_cast<size_t>(part)]; }
  void reset() { seconds_.fill(0.0); }

 private:
  std::array<double, static_cast<size_t>(Part::Count)> seconds_{};
};

// Adds the time from construction to destruction to `part` (no-op for a null timer).
class PartScope {
 public:
  PartScope(PartTimer* timer, Part part) : timer_(timer), part_(part) {
    if (timer_) start_ = std::chrono::steady_clock::now();
  }
  ~PartScope() {
    if (timer_) timer_->add(part_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  PartScope(const PartScope&) = delete;
  PartScope& operator=(const PartScope&) = delete;

 private:
  PartTimer* timer_;
  Part part_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tg
