#include "layers/attention.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "layers/backward_scratch.h"
#include "layers/step_parts.h"

// GCC 12 warns about its own AVX-512 intrinsics inside Eigen's packet math (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>
#pragma GCC diagnostic pop

namespace tg {

namespace {
using Row = Eigen::Map<Eigen::ArrayXf, Eigen::Unaligned>;
using ConstRow = Eigen::Map<const Eigen::ArrayXf, Eigen::Unaligned>;

// Shape mismatches here are programming errors (the model sizes everything), not user errors.
void require_shape(const Tensor& x, int64_t rows, int64_t cols, const char* what) {
  if (x.rows() != rows || x.cols() != cols)
    throw std::invalid_argument(std::string("CausalSelfAttention: ") + what + " is " + x.shape_string() +
                                ", expected " + std::to_string(rows) + " x " + std::to_string(cols));
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base,
                                         Precision precision, int64_t block)
    : d_model_(d_model), n_heads_(n_heads), head_dim_(n_heads > 0 ? d_model / n_heads : 0), block_(block),
      rotary_base_(rotary_base), precision_(precision) {
  if (d_model <= 0 || n_heads <= 0 || d_model % n_heads != 0)
    throw std::invalid_argument("CausalSelfAttention: d_model " + std::to_string(d_model) +
                                " must be a positive multiple of n_heads " + std::to_string(n_heads));
  if (!(rotary_fraction >= 0.0 && rotary_fraction <= 1.0) || !(rotary_base > 0.0))
    throw std::invalid_argument("CausalSelfAttention: rotary_fraction must be in [0, 1] and rotary_base > 0");
  if (block <= 0) throw std::invalid_argument("CausalSelfAttention: block must be positive");
  // As in GPT-NeoX: int(head_dim * rotary_pct), and rotate_half needs an even count.
  rot_dims_ = static_cast<int64_t>(std::floor(static_cast<double>(head_dim_) * rotary_fraction));
  rot_dims_ -= rot_dims_ % 2;
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

namespace {
// Views of (B*H) x T x hd head tensors and (B*H) x T x T score tensors for the batched
// block matmuls: rows from `row`, and for scores columns from `col`.
MatmulOperand heads_view(MatmulInput x, int64_t row, Trans trans, int64_t T, int64_t hd) {
  return {x.at(row * hd), trans, hd, T * hd};
}
MatmulOperand scores_view(MatmulInput x, int64_t row, int64_t col, Trans trans, int64_t T) {
  return {x.at(row * T + col), trans, T, T * T};
}
}  // namespace

// One query block's probabilities with train.recompute attention: (B*H) x bt x T and its
// bf16 copy, shared by every layer (one forward or backward at a time).
struct AttentionBlockScratch {
  Tensor probs;
  Bf16Buffer probs_bf16;
};

// Where query block r0's rows sit in a one-block buffer of `rows` x T per problem. Row i of
// problem g is at g * stride + first + (i - r0) * T; stride and first are chosen congruent,
// modulo 16 floats (64 bytes), to the whole T x T's g * T * T + i * T, so that every row
// has the alignment it has in the whole matrix. Eigen's vectorised exp and sums peel
// unaligned heads onto a scalar path, so alignment decides the rounding: with the same
// alignment the softmax is the same arithmetic, and the loss equals none's to the bit.
struct BlockLayout {
  static constexpr int64_t kAlign = 16;
  int64_t T, stride;
  BlockLayout(int64_t seq, int64_t rows)
      : T(seq), stride(rows * seq + ((seq * seq - rows * seq) % kAlign + kAlign) % kAlign) {}
  int64_t first(int64_t r0) const { return (r0 * T) % kAlign; }
  int64_t elements(int64_t problems) const { return problems * stride + kAlign; }
};

template <class RowFn>
void CausalSelfAttention::for_each_causal_row(const ScoreRows& rows, RowFn row_fn) const {
  const int64_t BH = batch_ * n_heads_, T = seq_;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t g = 0; g < BH; ++g)
    for (int64_t i = rows.r0; i < rows.r0 + rows.m; ++i) {
      const int64_t offset = g * rows.batch_stride + (i - rows.r0) * T, end = block_end(i);
      float* row = rows.data + offset;
      row_fn(offset, g * T + i, Row(row, i + 1));
      std::fill(row + i + 1, row + end, 0.0f);
      // The row is still in L1: its bf16 copy costs no extra trip to memory.
      if (rows.copy) convert_row_to_bf16(row, rows.copy + offset, end);
    }
}

void CausalSelfAttention::softmax_rows(const ScoreRows& rows) {
  // P_ij = exp(S_ij - max_j S) / sum over j <= i, vectorised (Eigen's exp, within a few ulp).
  for_each_causal_row(rows, [&](int64_t, int64_t r, Row p) {
    const float max = p.maxCoeff();
    p = (p - max).exp();
    const float inv_sum = 1.0f / p.sum();  // sum >= 1: the max entry contributes exp(0)
    p *= inv_sum;
    row_max_[r] = max;
    row_inv_sum_[r] = inv_sum;
  });
}

void CausalSelfAttention::recompute_probs_rows(const ScoreRows& rows) const {
  // softmax_rows' arithmetic with its saved max and 1 / sum: the same S gives the same P.
  for_each_causal_row(rows, [&](int64_t, int64_t r, Row p) {
    p = (p - row_max_[r]).exp();
    p *= row_inv_sum_[r];
  });
}

void CausalSelfAttention::softmax_backward_rows(const ScoreRows& d_scores, const float* probs) const {
  // dS_ij = P_ij (dP_ij - sum_k dP_ik P_ik) in place for j <= i. The zeroed masked entries
  // matter here: dP is dense there, and dS must not leak into dq'/dk'.
  for_each_causal_row(d_scores, [&](int64_t offset, int64_t, Row ds) {
    const ConstRow p(probs + offset, ds.size());
    const float dot = (ds * p).sum();
    ds = p * (ds - dot);
  });
}

void CausalSelfAttention::swap_saved(SavedSwap& swap) {
  for (Tensor* t : {&qh_, &kh_, &vh_, &probs_, &out_heads_, &row_max_, &row_inv_sum_}) swap(*t);
  for (Bf16Buffer* b : {&qh_bf_, &kh_bf_, &vh_bf_, &probs_bf_}) swap(*b);
}

void CausalSelfAttention::forward(Engine& engine, const Tensor& q, const Tensor& k, const Tensor& v, int64_t batch,
                                  int64_t seq, Tensor& out) {
  if (batch <= 0 || seq <= 0) throw std::invalid_argument("CausalSelfAttention: batch and seq must be positive");
  require_shape(q, batch * seq, d_model_, "q");
  require_shape(k, batch * seq, d_model_, "k");
  require_shape(v, batch * seq, d_model_, "v");
  PartScope scope(engine.part_timer(), step_part::kAttention);
  batch_ = batch;
  seq_ = seq;
  const int64_t BH = batch * n_heads_, T = seq, hd = head_dim_, bt = block_;
  const Precision p = precision_;
  ensure_rotary_tables(seq);
  // q', k', v: (B*T) x d -> (B*H) x T x hd, rotary applied to q and k in the same pass.
  to_heads(q, qh_, true);
  to_heads(k, kh_, true);
  to_heads(v, vh_, false);
  const MatmulInput q_in = matmul_input(p, qh_.data(), qh_.numel(), qh_bf_);
  const MatmulInput k_in = matmul_input(p, kh_.data(), kh_.numel(), kh_bf_);
  const MatmulInput v_in = matmul_input(p, vh_.data(), vh_.numel(), vh_bf_);
  row_max_.resize({BH, T});
  row_inv_sum_.resize({BH, T});
  // P lives whole in probs_ ((B*H) x T x T), or one query block at a time in the scratch
  // with recompute_probs_ (BlockLayout): block r0's rows start at r0 * T or at first(r0).
  AttentionBlockScratch& block_scratch = engine.workspace().get<AttentionBlockScratch>();
  Tensor& probs = recompute_probs_ ? block_scratch.probs : probs_;
  Bf16Buffer& probs_bf = recompute_probs_ ? block_scratch.probs_bf16 : probs_bf_;
  const BlockLayout layout(T, std::min(bt, T));
  const int64_t stride = recompute_probs_ ? layout.stride : T * T;
  probs.resize({recompute_probs_ ? layout.elements(BH) : BH * T * T});
  if (p == Precision::BF16) probs_bf.resize(probs.numel());
  const MatmulInput probs_in = matmul_input_again(p, probs.data(), probs_bf);

  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  out_heads_.resize({BH, T, hd});
  for (int64_t r0 = 0; r0 < T; r0 += bt) {
    const int64_t m = std::min(bt, T - r0), n = r0 + m, first = recompute_probs_ ? layout.first(r0) : r0 * T;
    // Query block rows [r0, r0 + m) meet keys [0, n), n = r0 + m:
    //   S[r0:r0+m, 0:n] (m x n) = q'[r0:r0+m] (m x hd) k'[0:n]^T (hd x n) / sqrt(hd)
    engine.matmul(heads_view(q_in, r0, Trans::No, T, hd), heads_view(k_in, 0, Trans::Yes, T, hd),
                  MatmulOutput{probs.data() + first, T, stride}, m, n, hd, scale, 0.0f, BH);
    softmax_rows({probs.data() + first, p == Precision::BF16 ? probs_bf.data() + first : nullptr, stride, r0, m});
    //   out[r0:r0+m] (m x hd) = P[r0:r0+m, 0:n] (m x n) v[0:n] (n x hd)
    engine.matmul(MatmulOperand{probs_in.at(first), Trans::No, T, stride}, heads_view(v_in, 0, Trans::No, T, hd),
                  MatmulOutput{out_heads_.data() + r0 * hd, hd, T * hd}, m, hd, n, 1.0f, 0.0f, BH);
  }
  from_heads(out_heads_, out, false);
}

void CausalSelfAttention::backward(Engine& engine, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  if (seq_ == 0) throw std::logic_error("CausalSelfAttention: backward before forward");
  require_shape(dout, batch_ * seq_, d_model_, "dout");
  PartScope scope(engine.part_timer(), step_part::kAttention);
  LayerBackwardScratch& scratch = layer_backward_scratch(engine);
  to_heads(dout, scratch.heads_dout, false);
  const MatmulInput dout_in =
      matmul_input(precision_, scratch.heads_dout.data(), scratch.heads_dout.numel(), scratch.output_grad_bf16);
  Tensor &dq_heads = scratch.heads_dq, &dk_heads = scratch.heads_dk, &dv_heads = scratch.heads_dv;
  for (Tensor* t : {&dq_heads, &dk_heads, &dv_heads}) t->resize({batch_ * n_heads_, seq_, head_dim_});
  if (recompute_probs_)
    backward_recomputed_probs(engine, dout_in, dq_heads, dk_heads, dv_heads);
  else
    backward_kept_probs(engine, dout_in, dq_heads, dk_heads, dv_heads);
  from_heads(dq_heads, dq, true);
  from_heads(dk_heads, dk, true);
  from_heads(dv_heads, dv, false);
}

void CausalSelfAttention::backward_kept_probs(Engine& engine, const MatmulInput& dout_in, Tensor& dq_heads,
                                              Tensor& dk_heads, Tensor& dv_heads) {
  const int64_t BH = batch_ * n_heads_, T = seq_, hd = head_dim_, bt = block_;
  const Precision p = precision_;
  LayerBackwardScratch& scratch = layer_backward_scratch(engine);
  Tensor& d_scores = scratch.scores_grad;
  const MatmulInput q_in = matmul_input_again(p, qh_.data(), qh_bf_);
  const MatmulInput k_in = matmul_input_again(p, kh_.data(), kh_bf_);
  const MatmulInput v_in = matmul_input_again(p, vh_.data(), vh_bf_);
  const MatmulInput probs_in = matmul_input_again(p, probs_.data(), probs_bf_);
  d_scores.resize({BH, T, T});
  if (p == Precision::BF16) scratch.scores_grad_bf16.resize(BH * T * T);
  const MatmulInput ds_in = matmul_input_again(p, d_scores.data(), scratch.scores_grad_bf16);

  // Query block rows [r0, r0 + m), keys [0, n):
  //   dP[r0:r0+m, 0:n] (m x n) = dout[r0:r0+m] (m x hd) v[0:n]^T (hd x n)
  for (int64_t r0 = 0; r0 < T; r0 += bt) {
    const int64_t m = std::min(bt, T - r0), n = r0 + m;
    engine.matmul(heads_view(dout_in, r0, Trans::No, T, hd), heads_view(v_in, 0, Trans::Yes, T, hd),
                  MatmulOutput{d_scores.data() + r0 * T, T, T * T}, m, n, hd, 1.0f, 0.0f, BH);
  }
  softmax_backward_rows({d_scores.data(), p == Precision::BF16 ? scratch.scores_grad_bf16.data() : nullptr, T * T,
                         0, T},
                        probs_.data());
  // S = q' k'^T * scale:  dq'[r0:r0+m] (m x hd) = dS[r0:r0+m, 0:n] (m x n) k'[0:n] (n x hd) * scale
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t r0 = 0; r0 < T; r0 += bt) {
    const int64_t m = std::min(bt, T - r0), n = r0 + m;
    engine.matmul(scores_view(ds_in, r0, 0, Trans::No, T), heads_view(k_in, 0, Trans::No, T, hd),
                  MatmulOutput{dq_heads.data() + r0 * hd, hd, T * hd}, m, hd, n, scale, 0.0f, BH);
  }
  // Key block columns [c0, c0 + w) are met by queries [c0, T):
  //   dv[c0:c0+w] (w x hd) = P[c0:T, c0:c0+w]^T (w x (T-c0)) dout[c0:T] ((T-c0) x hd)
  //   dk'[c0:c0+w]         = dS[c0:T, c0:c0+w]^T q'[c0:T] * scale
  for (int64_t c0 = 0; c0 < T; c0 += bt) {
    const int64_t w = std::min(bt, T - c0), rows = T - c0;
    engine.matmul(scores_view(probs_in, c0, c0, Trans::Yes, T), heads_view(dout_in, c0, Trans::No, T, hd),
                  MatmulOutput{dv_heads.data() + c0 * hd, hd, T * hd}, w, hd, rows, 1.0f, 0.0f, BH);
    engine.matmul(scores_view(ds_in, c0, c0, Trans::Yes, T), heads_view(q_in, c0, Trans::No, T, hd),
                  MatmulOutput{dk_heads.data() + c0 * hd, hd, T * hd}, w, hd, rows, scale, 0.0f, BH);
  }
}

void CausalSelfAttention::backward_recomputed_probs(Engine& engine, const MatmulInput& dout_in, Tensor& dq_heads,
                                                    Tensor& dk_heads, Tensor& dv_heads) {
  const int64_t BH = batch_ * n_heads_, T = seq_, hd = head_dim_, bt = block_;
  const Precision p = precision_;
  const bool bf = p == Precision::BF16;
  LayerBackwardScratch& scratch = layer_backward_scratch(engine);
  AttentionBlockScratch& block_scratch = engine.workspace().get<AttentionBlockScratch>();
  Tensor &probs = block_scratch.probs, &d_scores = scratch.scores_grad;
  // One query block of P and of dP / dS, both laid out as the forward's P (BlockLayout).
  const BlockLayout layout(T, std::min(bt, T));
  probs.resize({layout.elements(BH)});
  d_scores.resize({layout.elements(BH)});
  if (bf) {
    block_scratch.probs_bf16.resize(probs.numel());
    scratch.scores_grad_bf16.resize(d_scores.numel());
  }
  const MatmulInput q_in = matmul_input_again(p, qh_.data(), qh_bf_);
  const MatmulInput k_in = matmul_input_again(p, kh_.data(), kh_bf_);
  const MatmulInput v_in = matmul_input_again(p, vh_.data(), vh_bf_);
  const int64_t stride = layout.stride;
  // dk' and dv sum over the query blocks that meet each key.
  dk_heads.zero();
  dv_heads.zero();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t r0 = 0; r0 < T; r0 += bt) {
    const int64_t m = std::min(bt, T - r0), n = r0 + m, first = layout.first(r0);
    const MatmulInput probs_in = matmul_input_again(p, probs.data(), block_scratch.probs_bf16).at(first);
    const MatmulInput ds_in = matmul_input_again(p, d_scores.data(), scratch.scores_grad_bf16).at(first);
    const MatmulOutput probs_out{probs.data() + first, T, stride}, ds_out{d_scores.data() + first, T, stride};
    // S and P of rows [r0, r0 + m), keys [0, n), as the forward formed them.
    engine.matmul(heads_view(q_in, r0, Trans::No, T, hd), heads_view(k_in, 0, Trans::Yes, T, hd), probs_out, m, n,
                  hd, scale, 0.0f, BH);
    recompute_probs_rows({probs_out.data, bf ? block_scratch.probs_bf16.data() + first : nullptr, stride, r0, m});
    //   dP (m x n) = dout[r0:r0+m] (m x hd) v[0:n]^T (hd x n), then dS in place
    engine.matmul(heads_view(dout_in, r0, Trans::No, T, hd), heads_view(v_in, 0, Trans::Yes, T, hd), ds_out, m, n,
                  hd, 1.0f, 0.0f, BH);
    softmax_backward_rows({ds_out.data, bf ? scratch.scores_grad_bf16.data() + first : nullptr, stride, r0, m},
                          probs_out.data);
    //   dq'[r0:r0+m] (m x hd) = dS (m x n) k'[0:n] (n x hd) * scale
    engine.matmul(MatmulOperand{ds_in, Trans::No, T, stride}, heads_view(k_in, 0, Trans::No, T, hd),
                  MatmulOutput{dq_heads.data() + r0 * hd, hd, T * hd}, m, hd, n, scale, 0.0f, BH);
    //   dv[0:n] (n x hd) += P^T (n x m) dout[r0:r0+m] (m x hd);  dk'[0:n] += dS^T q'[r0:r0+m] * scale
    engine.matmul(MatmulOperand{probs_in, Trans::Yes, T, stride}, heads_view(dout_in, r0, Trans::No, T, hd),
                  MatmulOutput{dv_heads.data(), hd, T * hd}, n, hd, m, 1.0f, 1.0f, BH);
    engine.matmul(MatmulOperand{ds_in, Trans::Yes, T, stride}, heads_view(q_in, r0, Trans::No, T, hd),
                  MatmulOutput{dk_heads.data(), hd, T * hd}, n, hd, m, scale, 1.0f, BH);
  }
}

}  // namespace tg
