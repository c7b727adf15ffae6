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
#include "layers/int8_weight.h"

namespace tg {

// Forward-only buffers shared by every quantised layer of a model (layers run one at a
// time): the quantised input and its row scales, and a Pattention's S diag(s_V).
struct QuantizedForwardScratch {
  Tensor levels, scales, scaled_scores;
  Bf16Buffer levels_bf16;
  std::vector<int8_t> levels_s8;  // the int8 forward: q as int8
  std::vector<int32_t> acc;       // and its int32 product
};

inline QuantizedForwardScratch& quantized_forward_scratch(Engine& engine) {
  return engine.workspace().get<QuantizedForwardScratch>();
}

// x: m x k float32 (not modified). levels: the weight's Q. y: m x n, overwritten.
void quantized_product(Engine& engine, Precision precision, const float* x, int64_t m, int64_t k,
                       const Tensor& levels, Trans trans_levels, const float* col_scales, float* y, int64_t n);

// The same product on int8 kernels (inference, layers/int8_weight.h): q as int8, Q from
// `weight` (frozen), acc = q op(Q) in int32 (core/int8_matmul.h), then
// Y_ij = float(acc_ij) * xscale_i * colscale_j as scale_product computes it. acc is
// exact in int32 and, below 2^24, equal to the float32/bf16 product, so Y equals
// quantized_product's bit for bit.
void quantized_product_int8(Engine& engine, const float* x, int64_t m, int64_t k, const Int8Weight& weight,
                            Trans trans_levels, const float* col_scales, float* y, int64_t n);

}  // namespace tg
