#include "layers/quantized_matmul.h"

#include <cmath>
#include <stdexcept>

#include "core/int8_matmul.h"
#include "layers/weight_quantization.h"

namespace tg {

namespace {
// Below this many elements an elementwise loop runs on one thread.
constexpr int64_t kParallelElements = int64_t{1} << 15;

// y (m x n) = float(acc) scaled exactly as scale_product scales a float32 product:
// (float(acc_ij) * row_scale_i) * col_scale_j, the same operations in the same order, so
// the result equals the training forward's bit for bit (tests/test_packed_kernels.cpp).
// float(acc) is exact: |acc| <= 127 k < 2^24.
void scale_int_product(const int32_t* acc, int64_t m, int64_t n, const float* row_scale, const float* col_scale,
                       float* y) {
#pragma omp parallel for schedule(static) if (m * n >= kParallelElements)
  for (int64_t i = 0; i < m; ++i) {
    const float r = row_scale[i];
    const int32_t* a = acc + i * n;
    float* row = y + i * n;
    if (col_scale)
      for (int64_t j = 0; j < n; ++j) row[j] = static_cast<float>(a[j]) * r * col_scale[j];
    else
      for (int64_t j = 0; j < n; ++j) row[j] = static_cast<float>(a[j]) * r;
  }
}
}  // namespace

void quantized_product(Engine& engine, Precision precision, const float* x, int64_t m, int64_t k,
                       const Tensor& levels, Trans trans_levels, const float* col_scales, float* y, int64_t n) {
  QuantizedForwardScratch& scratch = quantized_forward_scratch(engine);
  scratch.levels.resize({m, k});
  scratch.scales.resize({m});
  quantize_activation_rows(x, m, k, scratch.levels.data(), scratch.scales.data());
  // Integers of magnitude <= 127 are exact in bf16, so bf16 changes nothing but speed.
  const MatmulInput q = matmul_input(precision, scratch.levels.data(), m * k, scratch.levels_bf16);
  engine.matmul_weight(q, Trans::No, levels.data(), trans_levels, y, m, n, k);
  scale_product(y, m, n, scratch.scales.data(), col_scales);
}

void quantized_product_int8(Engine& engine, const float* x, int64_t m, int64_t k, const Int8Weight& weight,
                            Trans trans_levels, const float* col_scales, float* y, int64_t n) {
  const bool shapes_match = trans_levels == Trans::Yes ? weight.rows == n && weight.cols == k
                                                       : weight.rows == k && weight.cols == n;
  if (!weight.frozen || !shapes_match) throw std::logic_error("quantized_product_int8: " + weight.name + ": not frozen or wrong shape");
  QuantizedForwardScratch& scratch = quantized_forward_scratch(engine);
  scratch.levels.resize({m, k});
  scratch.scales.resize({m});
  // The training forward's quantiser, so q and its scales are the same numbers.
  quantize_activation_rows(x, m, k, scratch.levels.data(), scratch.scales.data());
  scratch.levels_s8.resize(static_cast<size_t>(m * k));
  scratch.acc.resize(static_cast<size_t>(m * n));
  const float* q = scratch.levels.data();
  int8_t* q8 = scratch.levels_s8.data();
  // A NaN row (q NaN) becomes 0 here; its scale stays NaN, so its outputs are NaN as in
  // the training forward. (Small loops run on one thread: a fork and join costs more.)
#pragma omp parallel for schedule(static) if (m * k >= kParallelElements)
  for (int64_t i = 0; i < m * k; ++i) q8[i] = std::isnan(q[i]) ? int8_t{0} : static_cast<int8_t>(q[i]);
  matmul_s8s8s32(engine, q8, weight.levels.data(), trans_levels, scratch.acc.data(), m, n, k);
  scale_int_product(scratch.acc.data(), m, n, scratch.scales.data(), col_scales, y);
}

}  // namespace tg
