#include "layers/quantized_matmul.h"

#include "layers/weight_quantization.h"

namespace tg {

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

}  // namespace tg
