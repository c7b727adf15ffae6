#pragma once
// BitNet quantisers (docs/bitnet.md): weights to 1 bit or 1.58 bits per row, activations
// to 8 bits per row. Every scale is per row, so appending rows (token growth) leaves the
// old rows' quantised values and scales unchanged.
//
//   binary  (BitNet, Wang et al. 2023, eq. 1-3):  a = mean_j W_ij,  b = mean_j |W_ij|
//            Q_ij = sign(W_ij - a) in {-1, +1} (sign(0) = -1),  W~_ij = b * Q_ij
//   ternary (BitNet b1.58, Ma et al. 2024, eq. 1-3): g = mean_j |W_ij|
//            Q_ij = clip(round(W_ij / (g + eps)), -1, 1) in {-1, 0, +1},  W~_ij = g * Q_ij
//   8-bit activations (absmax per row): m = max_j |x_ij|
//            q_ij = clip(round(127 x_ij / m), -127, 127),  x~_ij = (m / 127) q_ij  (m = 0: zeros)
//
// A quantised product X~ W~^T is computed as (q Q^T) scaled: the integer-valued product is
// exact in float32 (|sum| <= 127 d_in < 2^24 for d_in < 132k; bf16 holds integers to 256
// exactly), so the training-time forward and the int8 inference kernels agree bit for bit.
#include <cstdint>
#include <string>

#include "core/enum_names.h"
#include "core/tensor.h"

namespace tg {

enum class WeightFormat { Float, Binary, Ternary };
inline constexpr EnumNames<WeightFormat, 3> kWeightFormatNames{
    "weight format", {{{WeightFormat::Float, "float"}, {WeightFormat::Binary, "binary"}, {WeightFormat::Ternary, "ternary"}}}};

inline std::string to_string(WeightFormat f) { return kWeightFormatNames.to_string(f); }
// Throws UserError naming the valid values if `name` is not one.
inline WeightFormat parse_weight_format(const std::string& name) { return kWeightFormatNames.parse(name); }

inline constexpr float kTernaryEps = 1e-5f;   // b1.58's epsilon in W / (g + eps)
inline constexpr float kActivationLevels = 127.0f;  // 8-bit symmetric: q in [-127, 127]

// w: rows x cols (row-major). Writes the integer values Q (as floats) into `levels`
// (rows x cols) and the per-row scale (b or g) into `scales` (rows).
void quantize_weight_rows(WeightFormat format, const float* w, int64_t rows, int64_t cols, float* levels,
                          float* scales);
// x: rows x cols. Writes q (as floats, may alias x) and the per-row scale m / 127.
void quantize_activation_rows(const float* x, int64_t rows, int64_t cols, float* levels, float* scales);
// y (rows x cols) *= row_scale[i] * col_scale[j]; col_scale null means 1.
void scale_product(float* y, int64_t rows, int64_t cols, const float* row_scale, const float* col_scale);

// The quantised form of one weight matrix, recomputed from the float master weights by
// every forward (they change every step).
struct QuantizedWeight {
  Tensor levels;  // Q, rows x cols, integer values in float32
  Tensor scales;  // rows
  void update(WeightFormat format, const Tensor& w);
  // out (rows x cols) = scales_i * levels_ij: the W~ the straight-through backward uses.
  void dequantize(Tensor& out) const;
};

}  // namespace tg
