#include "model/model_cost.h"

#include <algorithm>

#include "layers/attention.h"

namespace tg {

namespace {
// Every forward matmul but attention's T x T products, R = batch x seq rows:
//   TokenFormer layer: five Pattentions d -> d, n tokens each: 2 R n (d + d)
//   Transformer layer: Q, K, V, O Linear d -> d: 4 x 2 R d^2; MLP d -> h -> d: 4 R d h
//   tied logits: 2 R d V
double mapping_and_logit_flops(const ModelConfig& c, int64_t batch, int64_t seq) {
  const double rows = static_cast<double>(batch) * static_cast<double>(seq), d = static_cast<double>(c.d_model);
  double per_layer = 0;
  if (c.architecture == Architecture::TokenFormer) {
    const double tokens = static_cast<double>(3 * c.qkv_tokens + c.proj_tokens + c.ffn_tokens);
    per_layer = 2.0 * rows * tokens * 2.0 * d;
  } else {
    per_layer = 8.0 * rows * d * d + 4.0 * rows * d * static_cast<double>(c.ffn_hidden);
  }
  return static_cast<double>(c.n_layers) * per_layer + 2.0 * rows * d * static_cast<double>(c.vocab_size);
}

// Attention's q k^T and P v in every layer over `pairs` (query, key) pairs per sequence and
// head: 2 products x 2 FLOPs x hd per pair, for B H problems: 4 B d per pair.
double attention_flops(const ModelConfig& c, int64_t batch, double pairs) {
  return static_cast<double>(c.n_layers) * 4.0 * static_cast<double>(batch) * static_cast<double>(c.d_model) * pairs;
}

// Pairs attention computes: query block rows [r0, r0 + m) meet keys [0, r0 + m).
double computed_pairs(int64_t seq, int64_t block) {
  double pairs = 0;
  for (int64_t r0 = 0; r0 < seq; r0 += block) {
    const int64_t m = std::min(block, seq - r0);
    pairs += static_cast<double>(m) * static_cast<double>(r0 + m);
  }
  return pairs;
}
}  // namespace

double forward_model_flops(const ModelConfig& config, int64_t batch, int64_t seq) {
  const double all_pairs = static_cast<double>(seq) * static_cast<double>(seq);
  return mapping_and_logit_flops(config, batch, seq) + attention_flops(config, batch, all_pairs);
}

double forward_executed_flops(const ModelConfig& config, int64_t batch, int64_t seq) {
  // The blocks the model's attention uses (model/block.cpp builds it with the default).
  const double pairs = computed_pairs(seq, CausalSelfAttention::kDefaultBlock);
  return mapping_and_logit_flops(config, batch, seq) + attention_flops(config, batch, pairs);
}

StepCost step_cost(const ModelConfig& config, int64_t batch, int64_t grad_accum, int64_t ranks) {
  StepCost cost;
  cost.micro_batches = grad_accum * ranks;
  cost.tokens = batch * config.seq_len * cost.micro_batches;
  const double micro_batches = static_cast<double>(cost.micro_batches);
  cost.model_flops = 3.0 * forward_model_flops(config, batch, config.seq_len) * micro_batches;
  cost.executed_flops = 3.0 * forward_executed_flops(config, batch, config.seq_len) * micro_batches;
  return cost;
}

int64_t n_params(const ModelConfig& c) {
  const int64_t d = c.d_model;
  // TokenFormer: keys n x d and values n x d per Pattention. Transformer: four d x d
  // Linears, MLP h x d and d x h.
  const int64_t per_layer = c.architecture == Architecture::TokenFormer
                                ? (3 * c.qkv_tokens + c.proj_tokens + c.ffn_tokens) * 2 * d
                                : 4 * d * d + 2 * d * c.ffn_hidden;
  // Embedding V x d, final affine LayerNorm weight and bias (the block norms are not affine).
  return c.n_layers * per_layer + c.vocab_size * d + 2 * d;
}

}  // namespace tg
