#include "layers/pattention_norm.h"

#include <cmath>

#include <omp.h>

// GCC 12 warns about its own AVX-512 intrinsics inside Eigen's packet math (false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

namespace tg {

namespace {
using Row = Eigen::Map<Eigen::ArrayXf, Eigen::Unaligned>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf, Eigen::Unaligned>;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// Phi(x) = 0.5 (1 + erf(x / sqrt 2)) and gelu(x) = x Phi(x), as Eigen expressions.
template <typename X>
auto gelu_cdf(const X& x) {
  return 0.5f + 0.5f * (x * kInvSqrt2).erf();
}
// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
template <typename X>
auto gelu_derivative(const X& x) {
  return gelu_cdf(x) + x * (kInvSqrt2Pi * (-0.5f * x.square()).exp());
}
}  // namespace

void pattention_norm_forward(const PattentionNormRows& p, const float* A, float* S, bf16* S16, float* row_scratch,
                             float* R, int64_t rows, int64_t n) {
  const float tau = p.tau, eps = p.eps;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows; ++t) {
    ConstRow a(A + t * n, n);
    Row s(S ? S + t * n : row_scratch + omp_get_thread_num() * n, n);
    switch (p.norm) {
      case PattentionNorm::L2NormGelu: {
        // Z = A tau / r, r = sqrt(sum A^2 + eps);  S = gelu(Z)
        const float r = std::sqrt(a.square().sum() + eps);
        R[t] = r;
        const auto z = a * (tau / r);
        s = z * gelu_cdf(z);
        break;
      }
      case PattentionNorm::GeluL2Norm: {
        // G = gelu(A);  S = G tau / r, r = sqrt(sum G^2 + eps)
        s = a * gelu_cdf(a);
        const float r = std::sqrt(s.square().sum() + eps);
        R[t] = r;
        s *= tau / r;
        break;
      }
      case PattentionNorm::Softmax: {
        // S = tau^2 softmax(A), max-subtracted
        s = (a - a.maxCoeff()).exp();
        s *= tau * tau / s.sum();
        break;
      }
    }
    // The row is still in L1: its bf16 copy costs no extra trip to memory.
    if (S16) convert_row_to_bf16(s.data(), S16 + t * n, n);
  }
}

void pattention_norm_backward(const PattentionNormRows& p, const float* A, const float* S, const float* R, float* D,
                              int64_t rows, int64_t n) {
  const float tau = p.tau;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < rows; ++t) {
    ConstRow a(A + t * n, n);
    Row d(D + t * n, n);
    switch (p.norm) {
      case PattentionNorm::L2NormGelu: {
        // dZ = dS gelu'(Z);  dA_k = (tau / r) (dZ_k - A_k sum_j(dZ_j A_j) / r^2)
        const float r = R[t], scale = tau / r;
        d *= gelu_derivative(a * scale);
        const float c = (d * a).sum() / (r * r);
        d = scale * (d - a * c);
        break;
      }
      case PattentionNorm::GeluL2Norm: {
        // With G = S r / tau: dG_k = (tau / r) (dS_k - S_k sum_j(dS_j S_j) / tau^2);  dA = dG gelu'(A)
        ConstRow s(S + t * n, n);
        const float scale = tau / R[t];
        const float c = (d * s).sum() / (tau * tau);
        d = scale * (d - s * c) * gelu_derivative(a);
        break;
      }
      case PattentionNorm::Softmax: {
        // S = tau^2 P:  dA = S (dS - sum_j(dS_j S_j) / tau^2)
        ConstRow s(S + t * n, n);
        const float c = (d * s).sum() / (tau * tau);
        d = s * (d - c);
        break;
      }
    }
  }
}

}  // namespace tg
