#pragma once
// LayerNorm over the last dimension, optionally affine.
//   xhat = (x - mean) / sqrt(var + eps),   y = xhat * weight + bias  (affine)
//                                          y = xhat                  (non-affine)
// TokenFormer blocks use the non-affine form; the final norm is affine.
#include <optional>
#include <string>

#include "core/parameter.h"
#include "core/saved_swap.h"
#include "core/tensor.h"

namespace tg {

class LayerNorm {
 public:
  // name: checkpoint group of the affine parameters ("final_norm" -> final_norm/weight, /bias).
  LayerNorm(const std::string& name, int64_t dim, bool affine, float eps = 1e-5f);

  void forward(const Tensor& x, Tensor& y);                   // x, y: rows x dim
  void backward(const Tensor& dy, Tensor& dx, bool accumulate_dx);
  // Trades what forward saved for backward with a stash (core/saved_swap.h).
  void swap_saved(SavedSwap& swap) {
    swap(xhat_);
    swap(rstd_);
  }
  void collect_parameters(std::vector<Parameter*>& out);

  bool affine() const { return weight_.has_value(); }
  Parameter* weight() { return weight_ ? &*weight_ : nullptr; }
  Parameter* bias() { return bias_ ? &*bias_ : nullptr; }

 private:
  int64_t dim_;
  float eps_;
  std::optional<Parameter> weight_, bias_;
  Tensor xhat_;  // rows x dim, saved for backward
  Tensor rstd_;  // rows: 1 / sqrt(var + eps)
};

}  // namespace tg
