#include "model/block.h"

#include "core/error.h"
#include "layers/step_parts.h"

namespace tg {

namespace {
// Block::backward's buffers, one set shared by every block of a model (in the engine's
// Workspace; blocks run their backward one after another): gradients w.r.t. h, the LN2
// output, the attention output, q, k, v and the LN1 output.
struct BlockBackwardScratch {
  Tensor dh, d_ln2, d_attn, dq, dk, dv, d_ln1;
};
}  // namespace

Block::Block(int64_t d_model, int64_t n_heads, double rotary_fraction, double rotary_base, BlockMappings mappings,
             Precision precision)
    : ln1_("", d_model, false),
      ln2_("", d_model, false),
      attention_(d_model, n_heads, rotary_fraction, rotary_base, precision),
      m_(std::move(mappings)) {}

void Block::init(Rng& rng, const InitScales& scales) {
  m_.query->init(rng, scales, false);
  m_.key->init(rng, scales, false);
  m_.value->init(rng, scales, false);
  m_.proj->init(rng, scales, true);
  m_.ffn->init(rng, scales, true);
}

void Block::collect_int8_weights(std::vector<Int8Weight*>& out) {
  for (Mapping* m : {m_.query.get(), m_.key.get(), m_.value.get(), m_.proj.get(), m_.ffn.get()}) m->collect_int8_weights(out);
}

void Block::collect_parameters(std::vector<Parameter*>& out) {
  for (Mapping* m : {m_.query.get(), m_.key.get(), m_.value.get(), m_.proj.get(), m_.ffn.get()}) m->collect_parameters(out);
}

void Block::forward(Engine& engine, const Tensor& x, Tensor& out, int64_t batch, int64_t seq) {
  x_ = &x;
  batch_ = batch;
  seq_ = seq;
  const bool recompute = recompute_ == Recompute::Block;
  if (recompute) swap_saved(engine);  // borrow the stash's buffers...
  forward_saved(engine, x, &out, batch, seq);
  if (recompute) swap_saved(engine);  // ...and hand them on to the next block
  recompute_pending_ = recompute;
}

void Block::swap_saved(Engine& engine) {
  SavedSwap swap(engine.workspace().get<SavedStash>());
  for (Tensor* t : {&ln1_out_, &q_, &k_, &v_, &attn_out_, &proj_out_, &h_, &ln2_out_, &ffn_out_}) swap(*t);
  ln1_.swap_saved(swap);
  ln2_.swap_saved(swap);
  attention_.swap_saved(swap);
  for (Mapping* m : {m_.query.get(), m_.key.get(), m_.value.get(), m_.proj.get(), m_.ffn.get()}) m->swap_saved(swap);
}

void Block::forward_saved(Engine& engine, const Tensor& x, Tensor* out, int64_t batch, int64_t seq) {
  PartTimer* timer = engine.part_timer();
  {
    PartScope scope(timer, step_part::kNorms);
    ln1_.forward(x, ln1_out_);
  }
  m_.query->forward(engine, ln1_out_, q_);
  m_.key->forward(engine, ln1_out_, k_);
  m_.value->forward(engine, ln1_out_, v_);
  attention_.forward(engine, q_, k_, v_, batch, seq, attn_out_);
  m_.proj->forward(engine, attn_out_, proj_out_);
  h_.resize(x.shape());
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) h_[i] = x[i] + proj_out_[i];
  {
    PartScope scope(timer, step_part::kNorms);
    ln2_.forward(h_, ln2_out_);
  }
  if (!out) {  // recompute: no backward reads the FFN's output or the block's
    m_.ffn->forward_for_backward(engine, ln2_out_);
    return;
  }
  m_.ffn->forward(engine, ln2_out_, ffn_out_);
  out->resize(x.shape());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) (*out)[i] = h_[i] + ffn_out_[i];
}

void Block::backward(Engine& engine, const Tensor& dout, Tensor& dx) {
  // out = h + F(LN2(h)):  dh = dout + LN2'(F'(dout))
  PartTimer* timer = engine.part_timer();
  BlockBackwardScratch& scratch = engine.workspace().get<BlockBackwardScratch>();
  if (recompute_pending_) {
    swap_saved(engine);
    forward_saved(engine, *x_, nullptr, batch_, seq_);
  }
  Tensor& d_h = scratch.dh, &d_ln2 = scratch.d_ln2, &d_attn = scratch.d_attn;
  Tensor &d_q = scratch.dq, &d_k = scratch.dk, &d_v = scratch.dv, &d_ln1 = scratch.d_ln1;
  d_h = dout;
  m_.ffn->backward(engine, dout, d_ln2, false);
  {
    PartScope scope(timer, step_part::kNorms);
    ln2_.backward(d_ln2, d_h, true);
  }
  // h = x + P(Attn(Q(a), K(a), V(a))), a = LN1(x):  dx = dh + LN1'(Q' + K' + V')
  m_.proj->backward(engine, d_h, d_attn, false);
  attention_.backward(engine, d_attn, d_q, d_k, d_v);
  m_.query->backward(engine, d_q, d_ln1, false);
  m_.key->backward(engine, d_k, d_ln1, true);
  m_.value->backward(engine, d_v, d_ln1, true);
  dx = d_h;
  {
    PartScope scope(timer, step_part::kNorms);
    ln1_.backward(d_ln1, dx, true);
  }
  if (recompute_pending_) swap_saved(engine);
  recompute_pending_ = false;
}

}  // namespace tg
