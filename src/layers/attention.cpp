#include "layers/attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tg {

namespace {
// Shape mismatches here are programming errors (the model sizes everything), not user errors.
void require_shape(const Tensor& x, int64_t rows, int64_t cols, const char* what) {
  if (x.rows() != rows || x.cols() != cols)
    throw std::invalid_argument(std::string("CausalSelfAttention: ") + what + " is " + x.shape_string() +
                                ", expected " + std::to_string(rows) + " x " + std::to_string(cols));
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base,
                                         Precision precision)
    : d_model_(d_model), n_heads_(n_heads), head_dim_(n_heads > 0 ? d_model / n_heads : 0), rotary_base_(rotary_base),
      precision_(precision) {
  if (d_model <= 0 || n_heads <= 0 || d_model % n_heads != 0)
    throw std::invalid_argument("CausalSelfAttention: d_model " + std::to_string(d_model) +
                                " must be a positive multiple of n_heads " + std::to_string(n_heads));
  if (!(rotary_fraction >= 0.0 && rotary_fraction <= 1.0) || !(rotary_base > 0.0))
    throw std::invalid_argument("CausalSelfAttention: rotary_fraction must be in [0, 1] and rotary_base > 0");
  // As in GPT-NeoX: int(head_dim * rotary_pct), and rotate_half needs an even count.
  rot_dims_ = static_cast<int64_t>(std::floor(static_cast<double>(head_dim_) * rotary_fraction));
  rot_dims_ -= rot_dims_ % 2;
}

double CausalSelfAttention::forward_flops(int64_t batch, int64_t seq, int64_t d_model) {
  // S = q'k'^T and out = P v: 2 * T * T * hd multiply-adds each, per (b, h).
  return 4.0 * static_cast<double>(batch) * static_cast<double>(seq) * static_cast<double>(seq) *
         static_cast<double>(d_model);
}

void CausalSelfAttention::ensure_rotary_tables(int64_t seq) {
  const int64_t half = rot_dims_ / 2;
  if (half == 0 || seq <= table_positions_) return;
  cos_.resize({seq, half});
  sin_.resize({seq, half});
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t i = 0; i < half; ++i) {
      // theta = t * base^(-2i / r), in double so that large t keeps its accuracy.
      const double angle = static_cast<double>(t) * std::pow(rotary_base_, -2.0 * static_cast<double>(i) /
                                                                               static_cast<double>(rot_dims_));
      cos_[t * half + i] = static_cast<float>(std::cos(angle));
      sin_[t * half + i] = static_cast<float>(std::sin(angle));
    }
  table_positions_ = seq;
}

void CausalSelfAttention::to_heads(const Tensor& x, Tensor& heads, bool rotate) const {
  const int64_t B = batch_, T = seq_, H = n_heads_, hd = head_dim_, d = d_model_, half = rot_dims_ / 2;
  heads.resize({B * H, T, hd});
  const int64_t start = rotate ? rot_dims_ : 0;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* src = x.data() + (b * T + t) * d + h * hd;
        float* dst = heads.data() + ((b * H + h) * T + t) * hd;
        if (rotate && half > 0) {
          // y_i = x_i cos - x_{i+half} sin;  y_{i+half} = x_{i+half} cos + x_i sin
          const float* c = cos_.data() + t * half;
          const float* s = sin_.data() + t * half;
          for (int64_t i = 0; i < half; ++i) {
            dst[i] = src[i] * c[i] - src[i + half] * s[i];
            dst[i + half] = src[i + half] * c[i] + src[i] * s[i];
          }
        }
        for (int64_t i = start; i < hd; ++i) dst[i] = src[i];
      }
}

void CausalSelfAttention::from_heads(const Tensor& heads, Tensor& x, bool unrotate) const {
  const int64_t B = batch_, T = seq_, H = n_heads_, hd = head_dim_, d = d_model_, half = rot_dims_ / 2;
  x.resize({B * T, d});
  const int64_t start = unrotate ? rot_dims_ : 0;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < H; ++h) {
        const float* src = heads.data() + ((b * H + h) * T + t) * hd;
        float* dst = x.data() + (b * T + t) * d + h * hd;
        if (unrotate && half > 0) {
          // Gradient through y = R(theta) x is R(theta)^T dy = R(-theta) dy.
          const float* c = cos_.data() + t * half;
          const float* s = sin_.data() + t * half;
          for (int64_t i = 0; i < half; ++i) {
            dst[i] = src[i] * c[i] + src[i + half] * s[i];
            dst[i + half] = src[i + half] * c[i] - src[i] * s[i];
          }
        }
        for (int64_t i = start; i < hd; ++i) dst[i] = src[i];
      }
}

void CausalSelfAttention::forward(Engine& engine, const Tensor& q, const Tensor& k, const Tensor& v, int64_t batch,
                                  int64_t seq, Tensor& out) {
  if (batch <= 0 || seq <= 0) throw std::invalid_argument("CausalSelfAttention: batch and seq must be positive");
  require_shape(q, batch * seq, d_model_, "q");
  require_shape(k, batch * seq, d_model_, "k");
  require_shape(v, batch * seq, d_model_, "v");
  PartScope scope(engine.part_timer(), Part::Attention);
  batch_ = batch;
  seq_ = seq;
  const int64_t BH = batch * n_heads_, T = seq, hd = head_dim_;
  ensure_rotary_tables(seq);
  // q', k', v: (B*T) x d -> (B*H) x T x hd, rotary applied to q and k in the same pass.
  to_heads(q, qh_, true);
  to_heads(k, kh_, true);
  to_heads(v, vh_, false);

  // S (T x T) = q' (T x hd) k'^T (hd x T) / sqrt(hd), per (b, h). The masked upper
  // triangle is computed too: one dense batched matmul beats skipping it at these sizes.
  probs_.resize({BH, T, T});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const Precision p = precision_;
  const MatmulInput q_in = matmul_input(p, qh_.data(), qh_.numel(), qh_bf_);
  const MatmulInput k_in = matmul_input(p, kh_.data(), kh_.numel(), kh_bf_);
  engine.matmul(q_in, Trans::No, k_in, Trans::Yes, probs_.data(), T, T, hd, scale, 0.0f, BH);
  // P = softmax over j <= i with max subtraction; j > i is written as exact zeros
  // (never exp(-inf)), so P v and every backward product ignore the future.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < BH; ++g)
    for (int64_t i = 0; i < T; ++i) {
      float* row = probs_.data() + (g * T + i) * T;
      float mx = row[0];
      for (int64_t j = 1; j <= i; ++j) mx = std::max(mx, row[j]);
      float sum = 0.0f;
      for (int64_t j = 0; j <= i; ++j) sum += row[j] = std::exp(row[j] - mx);
      const float inv = 1.0f / sum;  // sum >= 1: the max entry contributes exp(0)
      for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      for (int64_t j = i + 1; j < T; ++j) row[j] = 0.0f;
    }
  // out (T x hd) = P (T x T) v (T x hd)
  out_heads_.resize({BH, T, hd});
  const MatmulInput probs_in = matmul_input(p, probs_.data(), probs_.numel(), probs_bf_);
  const MatmulInput v_in = matmul_input(p, vh_.data(), vh_.numel(), vh_bf_);
  engine.matmul(probs_in, Trans::No, v_in, Trans::No, out_heads_.data(), T, hd, T, 1.0f, 0.0f, BH);
  from_heads(out_heads_, out, false);
}

void CausalSelfAttention::backward(Engine& engine, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  if (seq_ == 0) throw std::logic_error("CausalSelfAttention: backward before forward");
  require_shape(dout, batch_ * seq_, d_model_, "dout");
  PartScope scope(engine.part_timer(), Part::Attention);
  const int64_t BH = batch_ * n_heads_, T = seq_, hd = head_dim_;
  BackwardScratch& scratch = engine.backward_scratch();
  Tensor& d_heads = scratch.heads_dout, &d_scores = scratch.scores_grad;
  Tensor &dq_heads = scratch.heads_dq, &dk_heads = scratch.heads_dk, &dv_heads = scratch.heads_dv;
  to_heads(dout, d_heads, false);
  // dv (T x hd) = P^T (T x T) dout (T x hd)
  dv_heads.resize({BH, T, hd});
  const Precision p = precision_;
  const MatmulInput probs_in = matmul_input_again(p, probs_.data(), probs_bf_);
  const MatmulInput dout_in = matmul_input(p, d_heads.data(), d_heads.numel(), scratch.output_grad_bf16);
  engine.matmul(probs_in, Trans::Yes, dout_in, Trans::No, dv_heads.data(), T, hd, T, 1.0f, 0.0f, BH);
  // dP (T x T) = dout (T x hd) v^T (hd x T)
  d_scores.resize({BH, T, T});
  engine.matmul(dout_in, Trans::No, matmul_input_again(p, vh_.data(), vh_bf_), Trans::Yes, d_scores.data(), T, T, hd,
                1.0f, 0.0f, BH);
  // dS_ij = P_ij (dP_ij - sum_k dP_ik P_ik), in place. Masked entries are zeroed
  // explicitly: dP is dense there, and dS must not leak into dq'/dk'.
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < BH; ++g)
    for (int64_t i = 0; i < T; ++i) {
      const float* p = probs_.data() + (g * T + i) * T;
      float* ds = d_scores.data() + (g * T + i) * T;
      float dot = 0.0f;
      for (int64_t j = 0; j <= i; ++j) dot += ds[j] * p[j];
      for (int64_t j = 0; j <= i; ++j) ds[j] = p[j] * (ds[j] - dot);
      for (int64_t j = i + 1; j < T; ++j) ds[j] = 0.0f;
    }
  // S = q' k'^T * scale:  dq' (T x hd) = dS (T x T) k' (T x hd) * scale,
  //                       dk' (T x hd) = dS^T (T x T) q' (T x hd) * scale
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  dq_heads.resize({BH, T, hd});
  dk_heads.resize({BH, T, hd});
  const MatmulInput ds_in = matmul_input(p, d_scores.data(), d_scores.numel(), scratch.scores_grad_bf16);
  engine.matmul(ds_in, Trans::No, matmul_input_again(p, kh_.data(), kh_bf_), Trans::No, dq_heads.data(), T, hd, T,
                scale, 0.0f, BH);
  engine.matmul(ds_in, Trans::Yes, matmul_input_again(p, qh_.data(), qh_bf_), Trans::No, dk_heads.data(), T, hd, T,
                scale, 0.0f, BH);
  from_heads(dq_heads, dq, true);
  from_heads(dk_heads, dk, true);
  from_heads(dv_heads, dv, false);
}

}  // namespace tg
