#include "layers/int8_weight.h"

#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace tg {

void Int8Weight::freeze_from(WeightFormat format, const Tensor& w) {
  if (w.dim(0) != rows || w.dim(1) != cols) throw std::logic_error("Int8Weight::freeze_from: " + name + ": shape mismatch");
  QuantizedWeight q;
  q.update(format, w);  // levels as float32 integers in {-1, 0, +1}
  std::vector<int8_t> as_int8(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float level = q.levels[i];
    // A NaN or infinite weight row has no levels (its scale is not finite either).
    if (!(level == -1.0f || level == 0.0f || level == 1.0f) || !std::isfinite(q.scales[i / cols]))
      throw UserError(name + ": row " + std::to_string(i / cols) + " holds a non-finite weight; it has no " +
                      to_string(format) + " levels");
    as_int8[i] = static_cast<int8_t>(level);
  }
  freeze(std::move(as_int8), std::move(q.scales));
}

void Int8Weight::freeze(std::vector<int8_t> stored_levels, Tensor stored_scales) {
  if (static_cast<int64_t>(stored_levels.size()) != rows * cols || stored_scales.numel() != rows)
    throw std::logic_error("Int8Weight::freeze: " + name + ": size mismatch");
  levels = std::move(stored_levels);
  scales = std::move(stored_scales);
  frozen = true;
}

}  // namespace tg
