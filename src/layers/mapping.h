#pragma once
// A learned map from rows of d_in features to rows of d_out features. In a
// TokenFormer every projection and the FFN is a Pattention; in the Transformer
// baseline they are a Linear or an MLP. Blocks are written against this interface,
// so both architectures share one block implementation.
#include <cstdint>
#include <vector>

#include "core/engine.h"
#include "core/parameter.h"
#include "core/tensor.h"

namespace tg {

class Mapping {
 public:
  virtual ~Mapping() = default;
  // x: rows x d_in -> y: rows x d_out (resized). Keeps a pointer to x for backward:
  // the caller must leave x unchanged until backward has run.
  virtual void forward(Engine& engine, const Tensor& x, Tensor& y) = 0;
  // Accumulates parameter gradients; writes dL/dx into dx, or adds it when
  // accumulate_dx is set (Q, K and V read the same normalised input).
  virtual void backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) = 0;
  virtual void collect_parameters(std::vector<Parameter*>& out) = 0;
};

}  // namespace tg
