#pragma once
// Buffers that live only inside one layer's backward call. Layers run their backward
// one after another, so one buffer of each kind serves every layer of a model: peak
// memory holds one of each instead of one per layer (the activations saved by forward
// are the layers' own). Kept in the engine's Workspace, which every backward reaches.
//
// Who uses what (never two users of one buffer at once):
//   Pattention::backward     scores_grad(_bf16), output_grad_bf16
//   Linear::backward         output_grad_bf16, weight_dequantized
//   (Pattention also weight_dequantized: V~, then K~, never both at once)
//   CausalSelfAttention      scores_grad(_bf16), output_grad_bf16, heads_*
#include "core/bf16.h"
#include "core/engine.h"
#include "core/tensor.h"

namespace tg {

struct LayerBackwardScratch {
  // Pattention dS -> dA (T x n); attention dP -> dS ((B*H) x T x T, only the blocks on or
  // below the diagonal written: the rest holds whatever the last user left).
  Tensor scores_grad;
  Bf16Buffer scores_grad_bf16;  // its bf16 copy (bf16 precision)
  Bf16Buffer output_grad_bf16;  // the incoming dY of a mapping / attention in bf16
  Tensor heads_dout, heads_dq, heads_dk, heads_dv;  // attention, (B*H) x T x hd each
  Tensor weight_dequantized;  // a BitNet layer's W~ = diag(s) Q for its straight-through dX
};

inline LayerBackwardScratch& layer_backward_scratch(Engine& engine) {
  return engine.workspace().get<LayerBackwardScratch>();
}

}  // namespace tg
