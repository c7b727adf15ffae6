#pragma once
// A small model of either architecture after two AdamW steps (so it has moments), a
// batch, and what growth tests measure on it: loss, logits, bit equality, max |x|.
// Shared by the depth and width growth tests.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "growth/grow.h"

namespace tg::testing {

inline ModelConfig small_model(Architecture arch, PattentionNorm norm = PattentionNorm::L2NormGelu,
                               WeightFormat weights = WeightFormat::Float) {
  ModelConfig c;
  c.weights = weights;
  c.architecture = arch;
  c.vocab_size = 13;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 6;
  c.qkv_tokens = 6;
  c.proj_tokens = 5;
  c.ffn_tokens = 10;
  c.ffn_hidden = 12;
  c.rotary_fraction = 0.5;
  c.normalization = norm;
  c.init_std = 0.5;  // far from zero, so exactness and gradients are tested on a non-trivial function
  return c;
}

struct Fixture {
  ModelConfig config;
  std::unique_ptr<LanguageModel> model;
  std::unique_ptr<AdamW> optimizer;
  TrainState state;
  std::vector<int32_t> inputs, targets;
  static constexpr int64_t kBatch = 2, kSeq = 6;
};

// A model after two AdamW steps (so it has moments), and a batch.
inline Fixture make_fixture(Engine& engine, Architecture arch, PattentionNorm norm = PattentionNorm::L2NormGelu,
                            const AdamWConfig& adam = {}, WeightFormat weights = WeightFormat::Float) {
  Fixture f;
  f.config = small_model(arch, norm, weights);
  f.model = std::make_unique<LanguageModel>(f.config);
  Rng rng(7);
  f.model->init(rng);
  f.optimizer = std::make_unique<AdamW>(adam, f.model->parameters());
  for (int64_t i = 0; i < Fixture::kBatch * Fixture::kSeq; ++i) {
    f.inputs.push_back(static_cast<int32_t>(rng.below(13)));
    f.targets.push_back(static_cast<int32_t>(rng.below(13)));
  }
  for (int step = 0; step < 2; ++step) {
    f.model->zero_grad();
    f.model->forward(engine, f.inputs, f.targets, Fixture::kBatch, Fixture::kSeq, true);
    f.model->backward(engine);
    f.optimizer->step(1e-2);
  }
  f.state.step = 2;
  return f;
}

inline GrowthTarget deeper(const ModelConfig& c, int64_t layers) { return {c.qkv_tokens, c.proj_tokens, c.ffn_tokens, layers}; }

// Token growth that keeps the function: zero new keys, tau kept (every normalisation but
// softmax, whose zero scores still weigh exp(0)).
inline GrowthOptions exact_token_options() {
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.tau = TauGrowth::Fixed;
  return o;
}

inline double loss_of(Engine& engine, LanguageModel& m, const Fixture& f, bool grad = false) {
  if (grad) m.zero_grad();
  const double loss = m.forward(engine, f.inputs, f.targets, Fixture::kBatch, Fixture::kSeq, grad);
  if (grad) m.backward(engine);
  return loss;
}

inline Tensor logits_of(Engine& engine, LanguageModel& m, const Fixture& f) {
  Tensor out;
  m.logits(engine, f.inputs, Fixture::kBatch, Fixture::kSeq, out);
  return out;
}

inline bool same_bits(const Tensor& a, const Tensor& b) {
  return a.numel() == b.numel() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, static_cast<double>(std::abs(t[i])));
  return m;
}


}  // namespace tg::testing
