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

#include "core/enum_names.h"
#include "layers/attention.h"
#include "layers/layer_norm.h"
#include "layers/mapping.h"

namespace tg {

// What a block keeps between its forward and its backward (train.recompute).
//   none:  every activation the backward reads (today's memory: all blocks' at once)
//   block: only its input x (held by the model); the backward runs the block's forward
//          again first, so one block's activations are alive at a time (in buffers the
//          blocks pass on through a stash: core/saved_swap.h). The same arithmetic on
//          the same input: losses and gradients equal none's bit for bit.
//   attention: every activation but attention's T x T probabilities, which the backward
//          forms again one query block at a time from the saved row max and sum
//          (layers/attention.h): attention's memory linear in T. The loss equals none's bit
//          for bit; dk and dv are summed block by block, so gradients match to rounding.
enum class Recompute { None, Attention, Block };
inline constexpr EnumNames<Recompute, 3> kRecomputeNames{
    "recompute mode", {{{Recompute::None, "none"}, {Recompute::Attention, "attention"}, {Recompute::Block, "block"}}}};

inline std::string to_string(Recompute r) { return kRecomputeNames.to_string(r); }
// Throws UserError naming the valid values if `name` is not one.
inline Recompute parse_recompute(const std::string& name) { return kRecomputeNames.parse(name); }

struct BlockMappings {
  std::unique_ptr<Mapping> query, key, value, proj, ffn;
};

class Block {
 public:
  Block(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base, BlockMappings mappings,
        Precision precision = Precision::FP32);

  // Keeps a pointer to x for backward: x must stay unchanged until then.
  void forward(Engine& engine, const Tensor& x, Tensor& out, int64_t batch, int64_t seq);
  void set_recompute(Recompute r) {
    recompute_ = r;
    attention_.set_recompute_probs(r == Recompute::Attention);
  }
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
  // The forward itself, saving what backward reads. out null: the forward again for the
  // backward (recompute block), which stops where no backward reads on: without the FFN's
  // last product and the block's output.
  void forward_saved(Engine& engine, const Tensor& x, Tensor* out, int64_t batch, int64_t seq);
  // Trades every saved buffer of the block and its layers with the engine's stash.
  void swap_saved(Engine& engine);

  LayerNorm ln1_, ln2_;
  CausalSelfAttention attention_;
  BlockMappings m_;
  Recompute recompute_ = Recompute::None;
  const Tensor* x_ = nullptr;  // the last forward's input and shape
  int64_t batch_ = 0, seq_ = 0;
  bool recompute_pending_ = false;  // saved activations handed on: backward recomputes them
  // Activations kept for backward.
  Tensor ln1_out_, q_, k_, v_, attn_out_, proj_out_, h_, ln2_out_, ffn_out_;
  // Backward works in buffers shared by all blocks (BlockBackwardScratch, block.cpp).
};

}  // namespace tg
