#pragma once
// Exact (erf) GELU and its derivative, scalar, for the Transformer baseline's MLP.
// Pattention's normalisations use the same formulas vectorised (pattention_norm.cpp).
//   gelu(x)  = x * Phi(x),             Phi(x) = 0.5 * (1 + erf(x / sqrt 2))
//   gelu'(x) = Phi(x) + x * phi(x),    phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
#include <cmath>

namespace tg {

inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

inline float gelu_grad(float x) {
  const float cdf = 0.5f * (1.0f + std::erf(x * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * std::exp(-0.5f * x * x);
  return cdf + x * pdf;
}

}  // namespace tg
