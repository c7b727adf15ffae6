#include "layers/pattention.h"

#include <cmath>
#include <optional>

#include "core/error.h"
#include "layers/gelu.h"

namespace tg {

std::string to_string(PattentionNorm norm) {
  switch (norm) {
    case PattentionNorm::L2NormGelu: return "l2_norm_gelu";
    case PattentionNorm::GeluL2Norm: return "gelu_l2_norm";
    case PattentionNorm::Softmax: return "softmax";
  }
  return "?";
}

PattentionNorm parse_pattention_norm(const std::string& name) {
  if (name == "l2_norm_gelu") return PattentionNorm::L2NormGelu;
  if (name == "gelu_l2_norm") return PattentionNorm::GeluL2Norm;
  if (name == "softmax") return PattentionNorm::Softmax;
  throw UserError("unknown Pattention normalization \"" + name +
                  "\" (expected l2_norm_gelu, gelu_l2_norm or softmax)");
}

Pattention::Pattention(const std::string& name, int64_t d_in, int64_t d_out, int64_t n_tokens,
                       PattentionNorm norm, float eps)
    : name_(name), d_in_(d_in), d_out_(d_out), norm_(norm), eps_(eps),
      tau_(std::sqrt(static_cast<float>(n_tokens))),
      keys_(name + "/keys", {n_tokens, d_in}, true),
      values_(name + "/values", {n_tokens, d_out}, true) {}

void Pattention::init(Rng& rng, float key_std, float value_std) {
  for (int64_t i = 0; i < keys_.value.numel(); ++i) keys_.value[i] = key_std * static_cast<float>(rng.normal());
  for (int64_t i = 0; i < values_.value.numel(); ++i) values_.value[i] = value_std * static_cast<float>(rng.normal());
}

void Pattention::collect_parameters(std::vector<Parameter*>& out) {
  out.push_back(&keys_);
  out.push_back(&values_);
}

double Pattention::forward_flops(int64_t rows) const {
  return 2.0 * static_cast<double>(rows) * static_cast<double>(n_tokens()) * static_cast<double>(d_in_ + d_out_);
}

void Pattention::forward(Engine& engine, const Tensor& x, Tensor& y) {
  const int64_t T = x.rows(), n = n_tokens();
  x_ = &x;
  scores_.resize({T, n});
  act_.resize({T, n});
  row_norm_.resize({T});
  PartTimer* timer = engine.part_timer();
  {
    // A (T x n) = X (T x d_in) K^T (d_in x n)
    PartScope scope(timer, Part::PattentionMatmul);
    engine.matmul(x.data(), Trans::No, keys_.value.data(), Trans::Yes, scores_.data(), T, n, d_in_);
  }
  std::optional<PartScope> norm_scope(std::in_place, timer, Part::PattentionNorm);
  const float tau = tau_, eps = eps_;
  const float* A = scores_.data();
  float* S = act_.data();
  float* R = row_norm_.data();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const float* a = A + t * n;
    float* s = S + t * n;
    switch (norm_) {
      case PattentionNorm::L2NormGelu: {
        double ss = 0;
        for (int64_t j = 0; j < n; ++j) ss += static_cast<double>(a[j]) * a[j];
        const float r = static_cast<float>(std::sqrt(ss + eps));
        R[t] = r;
        const float scale = tau / r;
        for (int64_t j = 0; j < n; ++j) s[j] = gelu(a[j] * scale);
        break;
      }
      case PattentionNorm::GeluL2Norm: {
        double ss = 0;
        for (int64_t j = 0; j < n; ++j) {
          s[j] = gelu(a[j]);
          ss += static_cast<double>(s[j]) * s[j];
        }
        const float r = static_cast<float>(std::sqrt(ss + eps));
        R[t] = r;
        const float scale = tau / r;
        for (int64_t j = 0; j < n; ++j) s[j] *= scale;
        break;
      }
      case PattentionNorm::Softmax: {
        float mx = a[0];
        for (int64_t j = 1; j < n; ++j) mx = std::max(mx, a[j]);
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          s[j] = std::exp(a[j] - mx);
          sum += s[j];
        }
        const float scale = static_cast<float>(tau * tau / sum);
        for (int64_t j = 0; j < n; ++j) s[j] *= scale;
        break;
      }
    }
  }
  norm_scope.reset();
  // Y (T x d_out) = S (T x n) V (n x d_out)
  y.resize({T, d_out_});
  PartScope scope(timer, Part::PattentionMatmul);
  engine.matmul(act_.data(), Trans::No, values_.value.data(), Trans::No, y.data(), T, d_out_, n);
}

void Pattention::backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) {
  const Tensor& x = *x_;
  const int64_t T = x.rows(), n = n_tokens();
  d_act_.resize({T, n});
  PartTimer* timer = engine.part_timer();
  std::optional<PartScope> scope(std::in_place, timer, Part::PattentionMatmul);
  // dV (n x d_out) += S^T (n x T) dY (T x d_out)
  engine.matmul(act_.data(), Trans::Yes, dy.data(), Trans::No, values_.grad.data(), n, d_out_, T, 1.0f, 1.0f);
  // dS (T x n) = dY (T x d_out) V^T (d_out x n)
  engine.matmul(dy.data(), Trans::No, values_.value.data(), Trans::Yes, d_act_.data(), T, n, d_out_);

  scope.emplace(timer, Part::PattentionNorm);
  // dS -> dA in place, row by row.
  const float tau = tau_;
  const float* A = scores_.data();
  const float* S = act_.data();
  const float* R = row_norm_.data();
  float* D = d_act_.data();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t) {
    const float* a = A + t * n;
    const float* s = S + t * n;
    float* d = D + t * n;
    switch (norm_) {
      case PattentionNorm::L2NormGelu: {
        // Z = tau * A / r, r = sqrt(sum A^2 + eps).  dZ = dS * gelu'(Z);
        // dA_k = tau * (dZ_k / r - A_k * sum_j(dZ_j A_j) / r^3)
        const float r = R[t];
        const float scale = tau / r;
        double dot = 0;
        for (int64_t j = 0; j < n; ++j) {
          d[j] *= gelu_grad(a[j] * scale);
          dot += static_cast<double>(d[j]) * a[j];
        }
        const float c = static_cast<float>(dot / (static_cast<double>(r) * r));
        for (int64_t j = 0; j < n; ++j) d[j] = scale * (d[j] - a[j] * c);
        break;
      }
      case PattentionNorm::GeluL2Norm: {
        // S = tau * G / r with G = gelu(A), r = sqrt(sum G^2 + eps). Writing G = S r / tau:
        //   dG_k = (tau / r) * (dS_k - S_k * sum_j(dS_j S_j) / tau^2),   dA = dG * gelu'(A)
        const float r = R[t];
        double dot = 0;
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(d[j]) * s[j];
        const float c = static_cast<float>(dot / (static_cast<double>(tau) * tau));
        const float scale = tau / r;
        for (int64_t j = 0; j < n; ++j) d[j] = scale * (d[j] - s[j] * c) * gelu_grad(a[j]);
        break;
      }
      case PattentionNorm::Softmax: {
        // S = tau^2 P.  dA = tau^2 * P * (dS - sum_j dS_j P_j) = S * (dS - sum_j(dS_j S_j) / tau^2)
        double dot = 0;
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(d[j]) * s[j];
        const float c = static_cast<float>(dot / (static_cast<double>(tau) * tau));
        for (int64_t j = 0; j < n; ++j) d[j] = s[j] * (d[j] - c);
        break;
      }
    }
  }
  scope.emplace(timer, Part::PattentionMatmul);
  // dK (n x d_in) += dA^T (n x T) X (T x d_in)
  engine.matmul(d_act_.data(), Trans::Yes, x.data(), Trans::No, keys_.grad.data(), n, d_in_, T, 1.0f, 1.0f);
  // dX (T x d_in) (+)= dA (T x n) K (n x d_in)
  if (!accumulate_dx) dx.resize({T, d_in_});
  engine.matmul(d_act_.data(), Trans::No, keys_.value.data(), Trans::No, dx.data(), T, d_in_, n, 1.0f,
                accumulate_dx ? 1.0f : 0.0f);
}

}  // namespace tg
