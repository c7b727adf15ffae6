#pragma once
// Causal multi-head self-attention with rotary position embedding (GPT-NeoX
// rotate_half on the first rot_dims of each head). No parameters: the Q/K/V and
// output projections are Mappings owned by the block.
//
// Shapes: q, k, v, out are (B*T) x d, row b*T + t; head h owns columns [h*hd, (h+1)*hd).
//   q', k' = rope(q), rope(k)                    per head, (B*H) x T x hd
//   S = q' k'^T / sqrt(hd)                       (B*H) x T x T, causal: j > i masked
//   P = softmax(S)  (row-wise, masked entries exactly 0)
//   out = P v                                    (B*H) x T x hd -> back to (B*T) x d
#include <cstdint>

#include "core/engine.h"
#include "core/tensor.h"

namespace tg {

class CausalSelfAttention {
 public:
  CausalSelfAttention(int64_t d_model, int64_t n_heads, double rotary_fraction = 0.25, double rotary_base = 10000.0);

  void forward(Engine& engine, const Tensor& q, const Tensor& k, const Tensor& v, int64_t batch, int64_t seq,
               Tensor& out);
  // dout -> dq, dk, dv (overwritten) for the q, k, v of the last forward.
  void backward(Engine& engine, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);

  int64_t rotary_dims() const { return rot_dims_; }
  // The two attention matmuls as computed (full T x T, masked half included): 4 B T^2 d.
  static double forward_flops(int64_t batch, int64_t seq, int64_t d_model);

 private:
  // (B*T) x d  <->  (B*H) x T x hd, rotating by +angle (to heads) or -angle (from heads).
  void to_heads(const Tensor& x, Tensor& heads, bool rotate) const;
  void from_heads(const Tensor& heads, Tensor& x, bool unrotate) const;
  void build_rotary_tables(int64_t seq);

  int64_t d_model_, n_heads_, head_dim_, rot_dims_;
  double rotary_base_;
  int64_t batch_ = 0, seq_ = 0;
  Tensor cos_, sin_;          // T x rot_dims/2
  Tensor qh_, kh_, vh_;       // (B*H) x T x hd, q and k rotated
  Tensor probs_;              // (B*H) x T x T
  Tensor out_heads_;          // (B*H) x T x hd
  Tensor d_heads_, d_probs_, dq_heads_, dk_heads_, dv_heads_;
};

}  // namespace tg
