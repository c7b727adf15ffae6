#include "layers/attention.h"

#include <algorithm>
#include <cmath>

namespace tg {

CausalSelfAttention::CausalSelfAttention(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base)
    : d_model_(d_model), n_heads_(n_heads), head_dim_(d_model / n_heads), rotary_base_(rotary_base) {
  rot_dims_ = static_cast<int64_t>(std::floor(static_cast<double>(head_dim_) * rotary_fraction));
  rot_dims_ -= rot_dims_ % 2;
}

double CausalSelfAttention::forward_flops(int64_t batch, int64_t seq, int64_t d_model) {
  return 4.0 * static_cast<double>(batch) * static_cast<double>(seq) * static_cast<double>(seq) *
         static_cast<double>(d_model);
}

void CausalSelfAttention::build_rotary_tables(int64_t seq) {
  const int64_t half = rot_dims_ / 2;
  if (cos_.numel() == seq * half && cos_.ndim() == 2 && cos_.dim(0) == seq) return;
  cos_.resize({seq, half});
  sin_.resize({seq, half});
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t i = 0; i < half; ++i) {
      // inv_freq_i = base^(-2i / rot_dims); computed in double so long sequences stay accurate.
      const double angle = static_cast<double>(t) * std::pow(rotary_base_, -2.0 * i / static_cast<double>(rot_dims_));
      cos_[t * half + i] = static_cast<float>(std::cos(angle));
      sin_[t * half + i] = static_cast<float>(std::sin(angle));
    }
}

void CausalSelfAttention::to_heads(const Tensor& x, Tensor& heads, bool rotate) const {
  const int64_t B = batch_, T = seq_, H = n_heads_, hd = head_dim_, d = d_model_, half = rot_dims_ / 2;
  heads.resize({B * H, T, hd});
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* src = x.data() + (b * T + t) * d + h * hd;
        float* dst = heads.data() + ((b * H + h) * T + t) * hd;
        int64_t start = 0;
        if (rotate) {
          // y_i = x_i cos - x_{i+half} sin;  y_{i+half} = x_{i+half} cos + x_i sin
          const float* c = cos_.data() + t * half;
          const float* s = sin_.data() + t * half;
          for (int64_t i = 0; i < half; ++i) {
            dst[i] = src[i] * c[i] - src[i + half] * s[i];
            dst[i + half] = src[i + half] * c[i] + src[i] * s[i];
          }
          start = rot_dims_;
        }
        for (int64_t i = start; i < hd; ++i) dst[i] = src[i];
      }
}

void CausalSelfAttention::from_heads(const Tensor& heads, Tensor& x, bool unrotate) const {
  const int64_t B = batch_, T = seq_, H = n_heads_, hd = head_dim_, d = d_model_, half = rot_dims_ / 2;
  x.resize({B * T, d});
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* src = heads.data() + ((b * H + h) * T + t) * hd;
        float* dst = x.data() + (b * T + t) * d + h * hd;
        int64_t start = 0;
        if (unrotate) {
          // The rotation is orthogonal: its gradient is the rotation by -angle.
          const float* c = cos_.data() + t * half;
          const float* s = sin_.data() + t * half;
          for (int64_t i = 0; i < half; ++i) {
            dst[i] = src[i] * c[i] + src[i + half] * s[i];
            dst[i + half] = src[i + half] * c[i] - src[i] * s[i];
          }
          start = rot_dims_;
        }
        for (int64_t i = start; i < hd; ++i) dst[i] = src[i];
      }
}

void CausalSelfAttention::forward(Engine& engine, const Tensor& q, const Tensor& k, const Tensor& v, int64_t batch,
                                  int64_t seq, Tensor& out) {
  batch_ = batch;
  seq_ = seq;
  const int64_t BH = batch * n_heads_, T = seq, hd = head_dim_;
  build_rotary_tables(seq);
  to_heads(q, qh_, true);
  to_heads(k, kh_, true);
  to_heads(v, vh_, false);

  // S (T x T) = q' (T x hd) k'^T (hd x T) / sqrt(hd), per (b, h)
  probs_.resize({BH, T, T});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  engine.matmul(qh_.data(), Trans::No, kh_.data(), Trans::Yes, probs_.data(), T, T, hd, scale, 0.0f, BH);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < BH; ++g)
    for (int64_t i = 0; i < T; ++i) {
      float* row = probs_.data() + (g * T + i) * T;
      float mx = row[0];
      for (int64_t j = 1; j <= i; ++j) mx = std::max(mx, row[j]);
      float sum = 0;
      for (int64_t j = 0; j <= i; ++j) sum += row[j] = std::exp(row[j] - mx);
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      for (int64_t j = i + 1; j < T; ++j) row[j] = 0.0f;
    }
  // out (T x hd) = P (T x T) v (T x hd)
  out_heads_.resize({BH, T, hd});
  engine.matmul(probs_.data(), Trans::No, vh_.data(), Trans::No, out_heads_.data(), T, hd, T, 1.0f, 0.0f, BH);
  from_heads(out_heads_, out, false);
}

void CausalSelfAttention::backward(Engine& engine, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  const int64_t BH = batch_ * n_heads_, T = seq_, hd = head_dim_;
  to_heads(dout, d_heads_, false);
  // dv (T x hd) = P^T (T x T) dout (T x hd);  dP (T x T) = dout (T x hd) v^T (hd x T)
  dv_heads_.resize({BH, T, hd});
  engine.matmul(probs_.data(), Trans::Yes, d_heads_.data(), Trans::No, dv_heads_.data(), T, hd, T, 1.0f, 0.0f, BH);
  d_probs_.resize({BH, T, T});
  engine.matmul(d_heads_.data(), Trans::No, vh_.data(), Trans::Yes, d_probs_.data(), T, T, hd, 1.0f, 0.0f, BH);
  // dS = P * (dP - sum_j dP_j P_j); masked entries have P = 0, so dS = 0 there.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < BH; ++g)
    for (int64_t i = 0; i < T; ++i) {
      const float* p = probs_.data() + (g * T + i) * T;
      float* d = d_probs_.data() + (g * T + i) * T;
      float dot = 0;
      for (int64_t j = 0; j <= i; ++j) dot += d[j] * p[j];
      for (int64_t j = 0; j <= i; ++j) d[j] = p[j] * (d[j] - dot);
      for (int64_t j = i + 1; j < T; ++j) d[j] = 0.0f;
    }
  // With S = q' k'^T * scale:  dq' = dS k' * scale,  dk' = dS^T q' * scale
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  dq_heads_.resize({BH, T, hd});
  dk_heads_.resize({BH, T, hd});
  engine.matmul(d_probs_.data(), Trans::No, kh_.data(), Trans::No, dq_heads_.data(), T, hd, T, scale, 0.0f, BH);
  engine.matmul(d_probs_.data(), Trans::Yes, qh_.data(), Trans::No, dk_heads_.data(), T, hd, T, scale, 0.0f, BH);
  from_heads(dq_heads_, dq, true);
  from_heads(dk_heads_, dk, true);
  from_heads(dv_heads_, dv, false);
}

}  // namespace tg
