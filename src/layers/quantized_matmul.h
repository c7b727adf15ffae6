#pragma once
// The forward product of a BitNet layer (layers/weight_quantization.h):
//   Y (m x n) = X~ op(W~)   with X~ the 8-bit per-row quantised X (m x k) and
//   W~ = diag(s) Q the quantised weight (Q stored n x k with Trans::Yes, k x n with Trans::No).
// Computed as (q op(Q)) on integer values, exact in float32 and bf16, then scaled:
//   Y_ij = acc_ij * xscale_i * colscale_j   (colscale = the weight's row scales when they
//   index Y's columns, i.e. Trans::Yes; null otherwise, the caller folds them into X).
#include <cstdint>

#include "core/engine.h"
#include "core/precision.h"
#include "core/tensor.h"

namespace tg {

// Forward-only buffers shared by every quantised layer of a model (layers run one at a
// time): the quantised input and its row scales, and a Pattention's S diag(s_V).
struct QuantizedForwardScratch {
  Tensor levels, scales, scaled_scores;
  Bf16Buffer levels_bf16;
};

inline QuantizedForwardScratch& quantized_forward_scratch(Engine& engine) {
  return engine.workspace().get<QuantizedForwardScratch>();
}

// x: m x k float32 (not modified). levels: the weight's Q. y: m x n, overwritten.
void quantized_product(Engine& engine, Precision precision, const float* x, int64_t m, int64_t k,
                       const Tensor& levels, Trans trans_levels, const float* col_scales, float* y, int64_t n);

}  // namespace tg
