#include "train/memory_estimate.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "core/memory_usage.h"
#include "layers/attention.h"
#include "model/model_cost.h"

namespace tg {

namespace {
constexpr double kFloat = 4, kBf16 = 2, kId = 4;

// One micro-batch's dimensions, as doubles: products such as B H T^2 overflow int64.
struct Dims {
  double B, T, R, d, V, L, H, hidden;
  bool bf16, tokenformer;
};
Dims dims_of(const ModelConfig& m, int64_t batch) {
  const auto B = static_cast<double>(batch), T = static_cast<double>(m.seq_len);
  return {B, T, B * T, static_cast<double>(m.d_model), static_cast<double>(m.vocab_size),
          static_cast<double>(m.n_layers), static_cast<double>(m.n_heads), static_cast<double>(m.ffn_hidden),
          m.precision == Precision::BF16, m.architecture == Architecture::TokenFormer};
}

// A Pattention of n tokens (layers/pattention.h): scores A and S (R x n), row norms;
// bf16: copies of X and S, and S not kept in float32 with l2_norm_gelu.
double pattention_saved(const Dims& x, double n, PattentionNorm norm) {
  double floats = x.R * n + x.R + (x.bf16 && norm == PattentionNorm::L2NormGelu ? 0 : x.R * n);
  return floats * kFloat + (x.bf16 ? (x.R * x.d + x.R * n) * kBf16 : 0);
}

// Q, K, V, the output projection and the FFN of one block.
double mappings_saved(const Dims& x, const ModelConfig& m) {
  if (x.tokenformer) {
    const auto qkv = static_cast<double>(m.qkv_tokens), proj = static_cast<double>(m.proj_tokens),
               ffn = static_cast<double>(m.ffn_tokens);
    return 3 * pattention_saved(x, qkv, m.normalization) + pattention_saved(x, proj, m.normalization) +
           pattention_saved(x, ffn, m.normalization);
  }
  // Linear keeps a pointer to its input (bf16: a copy); the MLP its pre-activation,
  // activation and their gradient (R x hidden each).
  return 3 * x.R * x.hidden * kFloat + (x.bf16 ? (5 * x.R * x.d + x.R * x.hidden) * kBf16 : 0);
}

// Rows of attention probabilities held per (b, h) problem: T (the whole T x T), or one
// query block's with recompute attention.
double probability_rows(const Dims& x, Recompute r) {
  return r == Recompute::Attention ? std::min<double>(x.T, CausalSelfAttention::kDefaultBlock) : x.T;
}

// What one block keeps between its forward and its backward (model/block.h): nine
// R x d activations, two LayerNorms' normalised inputs and 1 / std, attention's q', k',
// v, output heads, row statistics and (not with recompute attention) probabilities.
double block_saved(const Dims& x, const ModelConfig& m, Recompute r) {
  const double probs = r == Recompute::Attention ? 0 : x.B * x.H * x.T * x.T;
  double floats = 9 * x.R * x.d + 2 * (x.R * x.d + x.R) + 4 * x.R * x.d + 2 * x.B * x.H * x.T + probs;
  double bytes = floats * kFloat + (x.bf16 ? (3 * x.R * x.d + probs) * kBf16 : 0);
  return bytes + mappings_saved(x, m);
}

// Buffers every block's backward shares (model/block.cpp, layers/backward_scratch.h):
// seven R x d gradients, attention's four head-shaped ones, the largest score gradient
// (attention's probabilities or a Pattention's R x n), and with recompute attention the
// one query block of probabilities forms again.
double shared_backward(const Dims& x, const ModelConfig& m, Recompute r) {
  const double attention_scores = x.B * x.H * probability_rows(x, r) * x.T;
  const double pattention_scores =
      x.tokenformer ? x.R * static_cast<double>(std::max({m.qkv_tokens, m.proj_tokens, m.ffn_tokens})) : 0;
  const double scores = std::max(attention_scores, pattention_scores);
  const double block_probs = r == Recompute::Attention ? attention_scores : 0;
  const double floats = 11 * x.R * x.d + scores + block_probs;
  return floats * kFloat + (x.bf16 ? (scores + block_probs + x.R * std::max(x.d, x.hidden)) * kBf16 : 0);
}

// The model around its blocks (model/language_model.h): the residual stream x_0..x_L,
// the final norm's input and output, logits (R x V; dlogits in place), three R x d
// gradients; token ids of the model, the sampler and the validation batch.
double model_activations(const Dims& x) {
  const double floats = (x.L + 1) * x.R * x.d + 2 * x.R * x.d + x.R + x.R * x.V + 3 * x.R * x.d;
  return floats * kFloat + (x.bf16 ? (x.R * x.d + x.R * x.V) * kBf16 : 0) + 5 * x.R * kId;
}

double activations(const ModelConfig& m, const TrainConfig& t) {
  const Dims x = dims_of(m, t.batch_size);
  const double blocks_held = t.recompute == Recompute::Block ? 1 : x.L;
  double bytes = blocks_held * block_saved(x, m, t.recompute) + shared_backward(x, m, t.recompute) + model_activations(x);
  if (m.weights != WeightFormat::Float) {  // quantised inputs and scaled scores (layers/quantized_matmul.h)
    const double widest = std::max({x.d, x.hidden, static_cast<double>(x.tokenformer ? m.ffn_tokens : 0)});
    bytes += 2 * x.R * widest * kFloat;
  }
  return bytes;
}

// The largest weight matrix, which the engine packs for its kernels (core/engine.h).
double largest_matrix(const ModelConfig& m) {
  const double d = static_cast<double>(m.d_model);
  const double widest = m.architecture == Architecture::TokenFormer
                            ? static_cast<double>(std::max({m.qkv_tokens, m.proj_tokens, m.ffn_tokens}))
                            : static_cast<double>(std::max(m.d_model, m.ffn_hidden));
  return std::max(static_cast<double>(m.vocab_size), widest) * d;
}
}  // namespace

MemoryEstimate estimate_train_memory(const ModelConfig& model, const TrainConfig& train, int ranks) {
  const auto P = static_cast<double>(n_params(model));
  const double embedding = static_cast<double>(model.vocab_size) * static_cast<double>(model.d_model);
  MemoryEstimate e;
  e.weights_and_optimizer = 16 * P + largest_matrix(model) * kFloat;
  if (model.weights != WeightFormat::Float) e.weights_and_optimizer += (P - embedding) * kFloat;  // levels
  e.activations = activations(model, train);
  if (train.grad_accum * ranks > 1) e.gradient_sums = P * kFloat;
  if (train.deterministic_reduce && ranks > 1) e.gradient_sums += ranks * P * kFloat;
  e.checkpoint = 2 * 12 * P;
  return e;
}

std::string memory_summary(const MemoryEstimate& e, const ModelConfig& model, const TrainConfig& train) {
  std::string text = memory_text(e.total()) + " (weights and AdamW " + memory_text(e.weights_and_optimizer) +
                     ", activations of a " + line(train.batch_size, " x ", model.seq_len) + "-token micro-batch " +
                     memory_text(e.activations);
  if (e.gradient_sums > 0) text += ", gradient sums " + memory_text(e.gradient_sums);
  return text + ", checkpoint in memory " + memory_text(e.checkpoint) + ")";
}

void check_memory_fits(const MemoryEstimate& e, const ModelConfig& model, const TrainConfig& train,
                       const std::string& what) {
  const AvailableMemory available = available_memory();
  if (!available.known() || e.total() <= static_cast<double>(available.bytes)) return;
  std::string remedy;
  if (e.activations >= std::max({e.weights_and_optimizer, e.checkpoint, e.gradient_sums}))
    remedy = line("lower train.batch_size (", train.batch_size, ") or model.seq_len (", model.seq_len,
                  "), and raise train.grad_accum to keep the global batch (its micro-batches run one at a time)",
                  train.recompute == Recompute::None ? ", or set train.recompute to attention or block" : "");
  else if (e.gradient_sums > e.weights_and_optimizer)
    remedy = "set train.deterministic_reduce to false (it gathers every rank's gradients)";
  else
    remedy = line("choose a smaller model (model.d_model ", model.d_model, ", model.n_layers ", model.n_layers,
                  ", model.vocab_size ", model.vocab_size,
                  model.architecture == Architecture::TokenFormer ? ", the token counts" : ", model.ffn_hidden", ")");
  throw UserError(what + " needs about " + memory_summary(e, model, train) + ", more than the " +
                  memory_text(static_cast<double>(available.bytes)) + " available (" + available.source + "): " +
                  remedy);
}

}  // namespace tg
