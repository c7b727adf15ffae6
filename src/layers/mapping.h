#pragma once
// A learned map from rows of d_in features to rows of d_out features. In a
// TokenFormer every projection and the FFN is a Pattention; in the Transformer
// baseline they are a Linear or an MLP. Blocks are written against this interface,
// so both architectures share one block implementation.
#include <cstdint>
#include <vector>

#include "core/engine.h"
#include "core/parameter.h"
#include "core/rng.h"
#include "core/saved_swap.h"
#include "core/tensor.h"

namespace tg {

struct Int8Weight;  // layers/int8_weight.h

// Standard deviations of a model's initialisation: `std` for what reads the residual
// stream, `residual_std` for what writes into it (model/model_config.h,
// ModelConfig::residual_init_std).
struct InitScales {
  float std = 0.02f, residual_std = 0.02f;
};

class Mapping {
 public:
  virtual ~Mapping() = default;
  // x: rows x d_in -> y: rows x d_out (resized). Keeps a pointer to x for backward:
  // the caller must leave x unchanged until backward has run.
  virtual void forward(Engine& engine, const Tensor& x, Tensor& y) = 0;
  // The forward as far as the backward needs it: saves everything backward reads, forms no
  // y. train.recompute block runs a block's FFN so: no backward reads the FFN's output,
  // so its last product need not run again.
  virtual void forward_for_backward(Engine& engine, const Tensor& x) = 0;
  // Accumulates parameter gradients; writes dL/dx into dx, or adds it when
  // accumulate_dx is set (Q, K and V read the same normalised input).
  virtual void backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) = 0;
  virtual void collect_parameters(std::vector<Parameter*>& out) = 0;
  // Trades what forward saved for backward with a stash shared by the blocks
  // (train.recompute block: the block runs its forward again before its backward).
  virtual void swap_saved(SavedSwap& swap) = 0;
  // Draws the weights from `rng`. `writes_residual`: the mapping's output is added to the
  // residual stream (a block's output projection and FFN).
  virtual void init(Rng& rng, const InitScales& scales, bool writes_residual) = 0;
  // The int8 inference forms of its binary/ternary weight matrices (layers/int8_weight.h),
  // one per weight parameter, whatever the weight format; freezing them switches the
  // forward to the int8 kernels. Nothing for a mapping without such matrices.
  virtual void collect_int8_weights(std::vector<Int8Weight*>& out) { (void)out; }
};

}  // namespace tg
