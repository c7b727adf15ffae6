#pragma once
// A trainable tensor, its gradient, and what it is: its name (the path under /model in
// a checkpoint), what each axis indexes and how the optimizer treats it. Operators on
// models (growth in tokens, depth and width; export) map parameters by these
// descriptions, not by fixed paths.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg {

// What one axis of a parameter indexes.
enum class Axis {
  Tokens,  // parameter tokens of a Pattention (appended by token growth)
  Model,   // the d_model features of the residual stream (cloned by width growth)
  Hidden,  // an MLP's hidden units
  Vocab,   // vocabulary entries
};

// Decoupled AdamW weight decay applies to Decay (tokens, linear weights, embedding),
// not to NoDecay (norm gains and biases).
enum class OptimizerGroup { Decay, NoDecay };

struct Parameter {
  std::string name;  // e.g. "layers/0/ffn/keys"; blocks are "layers/<i>/..."
  Tensor value;
  Tensor grad;       // same shape as value; layers accumulate into it (+=)
  std::vector<Axis> axes;  // one per dimension of value
  OptimizerGroup group = OptimizerGroup::Decay;
  // The axis the layer's forward product sums over (a Linear's d_in, a Pattention
  // key's d_in, a value's tokens), -1 for none (lookups, elementwise gains). Width
  // growth divides a parameter by k when it clones this axis, so the sum is unchanged.
  int contracted_axis = -1;

  Parameter() = default;
  Parameter(std::string name_, std::vector<int64_t> shape, std::vector<Axis> axes_, OptimizerGroup group_,
            int contracted_axis_ = -1)
      : name(std::move(name_)),
        value(shape),
        grad(shape),
        axes(std::move(axes_)),
        group(group_),
        contracted_axis(contracted_axis_) {}

  bool decays() const { return group == OptimizerGroup::Decay; }
};

// The decoder block a parameter belongs to ("layers/3/attn/key/keys" -> 3), or -1 for
// the embedding and the final norm; and its name inside the block ("attn/key/keys").
int64_t block_of(const std::string& name);
std::string name_in_block(const std::string& name);
// "layers/<block>/<local>"
std::string block_parameter_name(int64_t block, const std::string& local);

}  // namespace tg
