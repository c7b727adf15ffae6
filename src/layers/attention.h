#pragma once
// Causal multi-head self-attention with rotary position embedding (GPT-NeoX
// rotate_half on the first rot_dims of each head). No parameters: the Q/K/V and
// output projections are Mappings owned by the block.
//
// B batch rows, T positions, H heads, hd = d / H, r = rot_dims, half = r / 2.
// q, k, v, out are (B*T) x d, row b*T + t; head h owns columns [h*hd, (h+1)*hd).
//
// Rotary (position t, first r dims of a head; dims >= r pass through):
//   theta_i = t * base^(-2i / r),  i in [0, half)
//   y_i        = x_i cos theta_i - x_{i+half} sin theta_i
//   y_{i+half} = x_{i+half} cos theta_i + x_i sin theta_i
// Each (i, i+half) pair is rotated by theta_i, so rope(q at t1) . rope(k at t2)
// depends on t1 - t2 only.
//
// Forward, per (b, h) problem (batched over B*H in every matmul):
//   q', k' = rope(q), rope(k)      (B*H) x T x hd   (v is only rearranged)
//   S = q' k'^T / sqrt(hd)         (B*H) x T x T
//   P = softmax(S) row-wise over j <= i; j > i is masked (causal): see the blocks below
//   out = P v                      (B*H) x T x hd  -> back to (B*T) x d
// Backward:
//   dv  = P^T dout                 (B*H) x T x hd
//   dP  = dout v^T                 (B*H) x T x T
//   dS  = P * (dP - rowsum(dP * P))   (softmax Jacobian; 0 where masked)
//   dq' = dS k' / sqrt(hd),  dk' = dS^T q' / sqrt(hd)
//   dq, dk = rope^-1(dq'), rope^-1(dk')   (rotation is orthogonal: its
//                                          transpose is the rotation by -theta)
//
// Block-causal: positions are cut into blocks of `block` rows. Query block I (rows
// [I*bt, I*bt + m)) only meets keys [0, I*bt + m), so every T x T product is done block
// row by block row (and dv, dk block column by block column) on strided views, and the
// blocks above the diagonal are never computed, stored or read: with T = 256 and 64-row
// blocks that skips 6 of 16 blocks. Inside a diagonal block the j > i entries are
// written as zeros. The whole T x T buffer is still allocated (rows are T apart), but
// only the blocks on or below the diagonal are touched.
#include <algorithm>
#include <cstdint>

#include "core/engine.h"
#include "core/precision.h"
#include "core/tensor.h"

namespace tg {

class CausalSelfAttention {
 public:
  // rot_dims = floor(head_dim * rotary_fraction) rounded down to even (0 => no rotary).
  // precision: of the batched matmuls (core/precision.h); softmax is float32 always.
  // block: rows per causal block (>= 1); any block >= T is the plain full T x T product.
  // For config A's shapes (T 256, hd 64) the forward matmuls took, fp32 / bf16 in ms:
  // block 256 3.0 / 1.6, 128 2.6 / 1.4, 64 2.4 / 1.4, 32 2.8 / 1.6: 64 it is.
  static constexpr int64_t kDefaultBlock = 64;
  CausalSelfAttention(int64_t d_model, int64_t n_heads, double rotary_fraction = 0.25, double rotary_base = 10000.0,
                      Precision precision = Precision::FP32, int64_t block = kDefaultBlock);

  // q, k, v: (batch*seq) x d_model. out is resized to (batch*seq) x d_model.
  // Caches q', k', v and P for backward.
  void forward(Engine& engine, const Tensor& q, const Tensor& k, const Tensor& v, int64_t batch, int64_t seq,
               Tensor& out);
  // dout -> dq, dk, dv (resized and overwritten) for the q, k, v of the last forward.
  void backward(Engine& engine, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);
  // Frees q', k', v, P and their bf16 copies (train.recompute block).
  void release_saved();

  int64_t rotary_dims() const { return rot_dims_; }

 private:
  // (B*T) x d  <->  (B*H) x T x hd, rotating by +theta (to heads) or -theta (from heads).
  void to_heads(const Tensor& x, Tensor& heads, bool rotate) const;
  void from_heads(const Tensor& heads, Tensor& x, bool unrotate) const;
  // cos/sin for positions [0, seq); grows only, since position t's row never changes.
  void ensure_rotary_tables(int64_t seq);

  // For every row i of the (B*H) x T x T `scores`: row_fn(offset of the row, its causal
  // part [0, i] as an Eigen array), then zeros for the masked rest of its block
  // (i, block_end(i)), which the next block matmul reads, and in bf16 the row's copy into
  // `copy` up to block_end(i).
  template <class RowFn>
  void for_each_causal_row(Tensor& scores, Bf16Buffer& copy, RowFn row_fn) const;
  // Causal softmax and its backward on the rows of the blocks computed.
  void softmax_rows();
  void softmax_backward_rows(Tensor& d_scores, Bf16Buffer& d_scores_bf16) const;
  // Last row + 1 of the block holding row i: the keys its query block meets.
  int64_t block_end(int64_t i) const { return std::min(seq_, (i / block_ + 1) * block_); }

  int64_t d_model_, n_heads_, head_dim_, rot_dims_, block_;
  double rotary_base_;
  Precision precision_;
  int64_t batch_ = 0, seq_ = 0;  // of the last forward; seq_ == 0 means no forward yet
  int64_t table_positions_ = 0;
  Tensor cos_, sin_;          // table_positions_ x rot_dims/2
  Tensor qh_, kh_, vh_;       // (B*H) x T x hd: q', k', v
  Tensor probs_;              // (B*H) x T x T: P (blocks on or below the diagonal)
  Tensor out_heads_;          // (B*H) x T x hd
  // Backward works in the engine's LayerBackwardScratch: heads_dout (dout rearranged),
  // scores_grad ((B*H) x T x T: dP, then dS in place), heads_dq/dk/dv.
  Bf16Buffer qh_bf_, kh_bf_, vh_bf_, probs_bf_;  // bf16 precision only
};

}  // namespace tg
