#pragma once
// One pre-norm decoder block, shared by TokenFormer and the Transformer baseline:
//
//   a   = LN1(x)                              non-affine LayerNorm
//   q, k, v = Q(a), K(a), V(a)                each a Mapping d -> d
//   h   = x + P(Attn(q, k, v))                causal multi-head attention with rotary
//   out = h + F(LN2(h))                       F: Pattention (TokenFormer) or GELU MLP
//
// All tensors are (batch * seq) x d, row = b * seq + t.
#include <memory>
#include <string>

#include "layers/attention.h"
#include "layers/layer_norm.h"
#include "layers/mapping.h"

namespace tg {

// What a block keeps between its forward and its backward (train.recompute).
//   none:  every activation the backward reads (today's memory: all blocks' at once)
//   block: only its input x (held by the model); the backward runs the block's forward
//          again first, so one block's activations are alive at a time. The same
//          arithmetic on the same input: losses and gradients equal none's bit for bit.
enum class Recompute { None, Block };

std::string to_string(Recompute r);
// Throws UserError naming the valid values if `name` is not one.
Recompute parse_recompute(const std::string& name);

struct BlockMappings {
  std::unique_ptr<Mapping> query, key, value, proj, ffn;
};

class Block {
 public:
  Block(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base, BlockMappings mappings,
        Precision precision = Precision::FP32);

  // Keeps a pointer to x for backward: x must stay unchanged until then.
  void forward(Engine& engine, const Tensor& x, Tensor& out, int64_t batch, int64_t seq);
  void set_recompute(Recompute r) { recompute_ = r; }
  // dout -> dx (overwritten); accumulates parameter gradients.
  void backward(Engine& engine, const Tensor& dout, Tensor& dx);
  void collect_parameters(std::vector<Parameter*>& out);
  // The int8 inference forms of its mappings' weight matrices (Mapping::collect_int8_weights).
  void collect_int8_weights(std::vector<Int8Weight*>& out);
  // Q, K, V, the output projection and the FFN in that order (the order of the draws);
  // the projection and the FFN write into the residual stream.
  void init(Rng& rng, const InitScales& scales);

  Mapping& query() { return *m_.query; }
  Mapping& key() { return *m_.key; }
  Mapping& value() { return *m_.value; }
  Mapping& proj() { return *m_.proj; }
  Mapping& ffn() { return *m_.ffn; }

 private:
  // The forward itself, saving what backward reads.
  void forward_saved(Engine& engine, const Tensor& x, Tensor& out, int64_t batch, int64_t seq);
  void release_saved();

  LayerNorm ln1_, ln2_;
  CausalSelfAttention attention_;
  BlockMappings m_;
  Recompute recompute_ = Recompute::None;
  const Tensor* x_ = nullptr;  // the last forward's input and shape
  int64_t batch_ = 0, seq_ = 0;
  bool released_ = false;      // saved activations freed: backward recomputes them
  // Activations kept for backward.
  Tensor ln1_out_, q_, k_, v_, attn_out_, proj_out_, h_, ln2_out_, ffn_out_;
  // Backward works in buffers shared by all blocks (BlockBackwardScratch, block.cpp).
};

}  // namespace tg
