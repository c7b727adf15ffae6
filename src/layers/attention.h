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
//
// Recomputed probabilities (train.recompute attention, FlashAttention's way): forward
// keeps no T x T matrix. It runs one query block at a time through a (B*H) x bt x T
// buffer shared by every layer and saves, per row, the softmax's max and 1 / sum. The
// backward, again one query block at a time, forms S for the block anew, P from the saved
// row statistics (the same arithmetic as the forward: the same P to the bit), then
//   dP = dout v^T,  dS as above,  dq' = dS k' / sqrt(hd)     (the block's rows, whole)
//   dv += P^T dout,  dk' += dS^T q' / sqrt(hd)             (keys [0, n), summed over blocks)
// so memory is linear in T; the price is one more q' k'^T product per backward.
#include <algorithm>
#include <cstdint>

#include "core/engine.h"
#include "core/precision.h"
#include "core/saved_swap.h"
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
  // Trades q', k', v, P and their bf16 copies with a stash (train.recompute block).
  void swap_saved(SavedSwap& swap);
  // true: keep no T x T probabilities, recompute them in backward (see above).
  void set_recompute_probs(bool on) { recompute_probs_ = on; }

  int64_t rotary_dims() const { return rot_dims_; }

 private:
  // (B*T) x d  <->  (B*H) x T x hd, rotating by +theta (to heads) or -theta (from heads).
  void to_heads(const Tensor& x, Tensor& heads, bool rotate) const;
  void from_heads(const Tensor& heads, Tensor& x, bool unrotate) const;
  // cos/sin for positions [0, seq); grows only, since position t's row never changes.
  void ensure_rotary_tables(int64_t seq);

  // Rows [r0, r0 + m) of every (b, h) problem of a score buffer: row i of problem g
  // starts at g * batch_stride + (i - r0) * T (the whole T x T: r0 0, m T, stride T * T;
  // a query block's buffer: stride m_max * T).
  struct ScoreRows {
    float* data;
    bf16* copy;  // its bf16 copy at the same offsets (bf16 precision), else null
    int64_t batch_stride, r0, m;
  };
  // For every row i of `rows`: row_fn(offset of the row, g * T + i, its causal part
  // [0, i] as an Eigen array), then zeros for the masked rest of its block
  // (i, block_end(i)), which the next block matmul reads, and in bf16 the row's copy up
  // to block_end(i).
  template <class RowFn>
  void for_each_causal_row(const ScoreRows& rows, RowFn row_fn) const;
  // Causal softmax in place, saving each row's max and 1 / sum; the same P again from
  // S and those statistics; the softmax backward (dP -> dS in place) given P's buffer.
  void softmax_rows(const ScoreRows& rows);
  void recompute_probs_rows(const ScoreRows& rows) const;
  void softmax_backward_rows(const ScoreRows& d_scores, const float* probs) const;
  // The two backwards: from the kept P, or with P recomputed block by block.
  void backward_kept_probs(Engine& engine, const MatmulInput& dout_in, Tensor& dq_heads, Tensor& dk_heads,
                           Tensor& dv_heads);
  void backward_recomputed_probs(Engine& engine, const MatmulInput& dout_in, Tensor& dq_heads, Tensor& dk_heads,
                                 Tensor& dv_heads);
  // Last row + 1 of the block holding row i: the keys its query block meets.
  int64_t block_end(int64_t i) const { return std::min(seq_, (i / block_ + 1) * block_); }

  int64_t d_model_, n_heads_, head_dim_, rot_dims_, block_;
  double rotary_base_;
  Precision precision_;
  int64_t batch_ = 0, seq_ = 0;  // of the last forward; seq_ == 0 means no forward yet
  int64_t table_positions_ = 0;
  Tensor cos_, sin_;          // table_positions_ x rot_dims/2
  Tensor qh_, kh_, vh_;       // (B*H) x T x hd: q', k', v
  bool recompute_probs_ = false;
  Tensor probs_;              // (B*H) x T x T: P (blocks on or below the diagonal); not
                              // with recompute_probs_, which uses AttentionBlockScratch
  Tensor row_max_, row_inv_sum_;  // (B*H) x T: each softmax row's max and 1 / sum
  Tensor out_heads_;          // (B*H) x T x hd
  // Backward works in the engine's LayerBackwardScratch: heads_dout (dout rearranged),
  // scores_grad ((B*H) x T x T: dP, then dS in place), heads_dq/dk/dv.
  Bf16Buffer qh_bf_, kh_bf_, vh_bf_, probs_bf_;  // bf16 precision only
};

}  // namespace tg
