#include "layers/weight_quantization.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace tg {

namespace {
// Sums in double so a row's scale does not depend on the summation order's rounding.
double mean_abs(const float* row, int64_t cols) {
  double s = 0;
  for (int64_t j = 0; j < cols; ++j) s += std::fabs(row[j]);
  return s / static_cast<double>(cols);
}

void binarize_row(const float* w, int64_t cols, float* q, float* scale) {
  double mean = 0;
  for (int64_t j = 0; j < cols; ++j) mean += w[j];
  const float centre = static_cast<float>(mean / static_cast<double>(cols));
  for (int64_t j = 0; j < cols; ++j) q[j] = w[j] - centre > 0.0f ? 1.0f : -1.0f;
  *scale = static_cast<float>(mean_abs(w, cols));
}

void ternarize_row(const float* w, int64_t cols, float* q, float* scale) {
  const float g = static_cast<float>(mean_abs(w, cols));
  const float inv = 1.0f / (g + kTernaryEps);
  for (int64_t j = 0; j < cols; ++j) q[j] = std::clamp(std::round(w[j] * inv), -1.0f, 1.0f);
  *scale = g;
}
}  // namespace

void quantize_weight_rows(WeightFormat format, const float* w, int64_t rows, int64_t cols, float* levels,
                          float* scales) {
  if (format == WeightFormat::Float) throw std::logic_error("quantize_weight_rows: float weights are not quantised");
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    if (format == WeightFormat::Binary) binarize_row(w + i * cols, cols, levels + i * cols, scales + i);
    else ternarize_row(w + i * cols, cols, levels + i * cols, scales + i);
  }
}

void quantize_activation_rows(const float* x, int64_t rows, int64_t cols, float* levels, float* scales) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = x + i * cols;
    float* q = levels + i * cols;
    float m = 0.0f;
    for (int64_t j = 0; j < cols; ++j) m = std::max(m, std::fabs(row[j]));
    for (int64_t j = 0; j < cols; ++j)
      if (std::isnan(row[j])) m = row[j];
    if (!(m > 0.0f) || !std::isfinite(m)) {
      // An all-zero row quantises to zeros; a non-finite one stays NaN (the divergence
      // guard must see it).
      const float fill = m == 0.0f ? 0.0f : std::nanf("");
      for (int64_t j = 0; j < cols; ++j) q[j] = fill;
      scales[i] = fill;
      continue;
    }
    const float inv = kActivationLevels / m;
    for (int64_t j = 0; j < cols; ++j) q[j] = std::clamp(std::round(row[j] * inv), -kActivationLevels, kActivationLevels);
    scales[i] = m / kActivationLevels;
  }
}

void scale_product(float* y, int64_t rows, int64_t cols, const float* row_scale, const float* col_scale) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i) {
    float* row = y + i * cols;
    const float r = row_scale[i];
    if (col_scale)
      for (int64_t j = 0; j < cols; ++j) row[j] = row[j] * r * col_scale[j];
    else
      for (int64_t j = 0; j < cols; ++j) row[j] *= r;
  }
}

void QuantizedWeight::update(WeightFormat format, const Tensor& w) {
  levels.resize(w.shape());
  scales.resize({w.dim(0)});
  quantize_weight_rows(format, w.data(), w.dim(0), w.dim(1), levels.data(), scales.data());
}

void QuantizedWeight::dequantize(Tensor& out) const {
  out.resize(levels.shape());
  const int64_t rows = levels.dim(0), cols = levels.dim(1);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = scales[i] * levels[i * cols + j];
}

}  // namespace tg
