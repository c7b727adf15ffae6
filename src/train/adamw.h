#pragma once
// AdamW with decoupled weight decay (PyTorch's update order):
//   p <- p * (1 - lr * wd)                         (only parameters with decay)
//   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
//   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//
// The step count t is kept per parameter ROW, not per tensor: after growth the new
// parameter-token rows start at t = 0 with zero moments, so their first updates
// are ordinary first Adam steps while old rows keep their history.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/parameter.h"

namespace tg {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

struct AdamWState {
  Tensor exp_avg;                 // m, same shape as the parameter
  Tensor exp_avg_sq;              // v
  std::vector<int64_t> row_steps; // t per row (rows = leading dim; 1 row for 1-D)
};

class AdamW {
 public:
  AdamW(const AdamWConfig& config, const std::vector<Parameter*>& params);

  void step(double lr);
  // Rows that take no update in step() (weights, decay, moments and step counts all
  // unchanged) and whose gradients clip_grad_norm() zeroes first, so they neither move
  // nor count in the norm: the first frozen[name] rows of each named parameter. Null: none.
  void set_frozen_rows(const std::map<std::string, int64_t>* frozen) { frozen_ = frozen; }
  // Scales all gradients so their global L2 norm is at most max_norm; returns the
  // norm before clipping (max_norm <= 0 only measures).
  double clip_grad_norm(double max_norm);

  const AdamWConfig& config() const { return config_; }
  std::vector<Parameter*>& params() { return params_; }
  AdamWState& state(const std::string& name) { return state_.at(name); }
  std::map<std::string, AdamWState>& states() { return state_; }

 private:
  AdamWConfig config_;
  std::vector<Parameter*> params_;
  std::map<std::string, AdamWState> state_;
  const std::map<std::string, int64_t>* frozen_ = nullptr;

  int64_t frozen_rows_of(const Parameter& p) const;
};

}  // namespace tg
