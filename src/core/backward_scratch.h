#pragma once
// Buffers that live only inside one layer's backward call. Layers run their backward
// one after another, so one buffer of each kind serves every layer of a model: peak
// memory holds one of each instead of one per layer (the activations saved by forward
// are the layers' own). Owned by the Engine, which every backward receives.
//
// Who uses what (never two users of one buffer at once):
//   Block::backward          block_*            (around its mappings and attention)
//   Pattention::backward     scores_grad(_bf16), output_grad_bf16
//   Linear::backward         output_grad_bf16
//   CausalSelfAttention      scores_grad(_bf16), output_grad_bf16, heads_*
#include "core/bf16.h"
#include "core/tensor.h"

namespace tg {

struct BackwardScratch {
  // Pattention dS -> dA (T x n); attention dP -> dS ((B*H) x T x T, only the blocks on or
  // below the diagonal written: the rest holds whatever the last user left).
  Tensor scores_grad;
  Bf16Buffer scores_grad_bf16;  // its bf16 copy (bf16 precision)
  Bf16Buffer output_grad_bf16;  // the incoming dY of a mapping / attention in bf16
  Tensor heads_dout, heads_dq, heads_dk, heads_dv;  // attention, (B*H) x T x hd each
  // Block::backward: gradients w.r.t. h, LN2 output, attention output, q, k, v, LN1 output.
  Tensor block_dh, block_d_ln2, block_d_attn, block_dq, block_dk, block_dv, block_d_ln1;
};

}  // namespace tg
