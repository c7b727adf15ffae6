// FLOP and parameter counts from the config (model/model_cost.h) against what a built
// model really has and really runs: its parameter sizes, and the FLOPs the engine counts
// over every matmul of a forward pass and of a training step.
#include <catch2/catch.hpp>

#include <algorithm>

#include "core/rng.h"
#include "layers/attention.h"
#include "model/language_model.h"
#include "model/model_cost.h"
#include "bf16_support.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Every size distinct, so that a count using the wrong one is off.
ModelConfig small_model(Architecture arch, Precision precision) {
  ModelConfig c;
  c.architecture = arch;
  c.precision = precision;
  c.vocab_size = 37;
  c.d_model = 16;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 130;
  c.qkv_tokens = 8;
  c.proj_tokens = 12;
  c.ffn_tokens = 24;
  c.ffn_hidden = 20;
  return c;
}

// Sequence lengths around the attention's blocks: one partial block, exactly one, one and
// a row, two and a partial third.
constexpr int64_t kSeqs[] = {1, 7, CausalSelfAttention::kDefaultBlock, CausalSelfAttention::kDefaultBlock + 1, 130};
}  // namespace

TEST_CASE("Executed FLOPs and parameters from the config equal what the model runs and holds",
          "[model][flops]") {
  Engine engine(2);
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer})
    for (Precision precision : {Precision::FP32, Precision::BF16}) {
      if (precision == Precision::BF16 && !bf16_runs_here(engine)) continue;
      const ModelConfig c = small_model(arch, precision);
      LanguageModel model(c);
      Rng rng(1);
      model.init(rng);
      int64_t held = 0;
      for (const Parameter* p : model.parameters()) held += p->value.numel();
      REQUIRE(n_params(c) == held);
      for (int64_t seq : kSeqs) {
        const int64_t batch = 2;
        INFO(to_string(arch) << " " << to_string(precision) << " seq " << seq);
        std::vector<int32_t> tokens(batch * seq);
        for (auto& t : tokens) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(c.vocab_size)));
        MatmulFlopCounter counter;
        engine.set_flop_counter(&counter);
        model.zero_grad();
        model.forward(engine, tokens, tokens, batch, seq, true);
        REQUIRE(static_cast<double>(counter.flops) == forward_executed_flops(c, batch, seq));
        model.backward(engine);
        ModelConfig at_seq = c;  // step_cost counts windows of the config's seq_len
        at_seq.seq_len = seq;
        REQUIRE(static_cast<double>(counter.flops) == step_cost(at_seq, batch, 1, 1).executed_flops);
        engine.set_flop_counter(nullptr);
      }
    }
}

TEST_CASE("Model FLOPs are the executed FLOPs plus attention's masked blocks, which are never computed",
          "[model][flops]") {
  // The masked part counted pair by pair: query i's block ends at row (i / block + 1) block,
  // and every key j at or past that end is skipped; each skipped pair would have cost hd
  // multiply-adds in q k^T and in P v for each of B H problems, in each layer.
  const int64_t block = CausalSelfAttention::kDefaultBlock;
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer})
    for (int64_t seq : {int64_t{1}, int64_t{7}, block, block + 1, int64_t{130}, int64_t{256}}) {
      const ModelConfig c = small_model(arch, Precision::FP32);
      const int64_t batch = 3;
      int64_t skipped = 0;
      for (int64_t i = 0; i < seq; ++i)
        for (int64_t j = 0; j < seq; ++j) skipped += j >= (i / block + 1) * block;
      const double masked = static_cast<double>(c.n_layers * 4 * batch * c.d_model * skipped);
      INFO(to_string(arch) << " seq " << seq);
      REQUIRE(forward_model_flops(c, batch, seq) == forward_executed_flops(c, batch, seq) + masked);
      if (seq <= block) REQUIRE(skipped == 0);
      // docs/flops.md: at T = 256 with 64-row blocks, 6 of the 16 blocks are skipped.
      if (seq == 256) REQUIRE(skipped * 16 == 6 * seq * seq);
    }
}

TEST_CASE("LanguageModel::forward_flops is the config's model FLOPs", "[model][flops]") {
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
    const ModelConfig c = small_model(arch, Precision::FP32);
    const LanguageModel model(c);
    REQUIRE(model.forward_flops(3, 130) == forward_model_flops(c, 3, 130));
    REQUIRE(model.n_params() == n_params(c));
  }
}

TEST_CASE("step_cost counts a global step's tokens and FLOPs as counted by hand", "[model][flops]") {
  ModelConfig c;  // TokenFormer
  c.vocab_size = 11;
  c.d_model = 8;
  c.n_layers = 1;
  c.n_heads = 2;
  c.seq_len = 128;  // two 64-row attention blocks: the block above the diagonal is skipped
  c.qkv_tokens = 2;
  c.proj_tokens = 3;
  c.ffn_tokens = 5;
  // One sequence (R = 128 rows), one layer:
  //   Pattentions  2 R (3 x 2 + 3 + 5) 2d = 2 x 128 x 14 x 16 = 57344
  //   logits       2 R d V               = 2 x 128 x 8 x 11  = 22528
  //   attention    4 d x pairs: all 128^2 = 16384 (model), 64 x 64 + 64 x 128 = 12288 (executed)
  const double model_forward = 57344 + 22528 + 4.0 * 8 * 16384;     // 604160
  const double executed_forward = 57344 + 22528 + 4.0 * 8 * 12288;  // 473088
  // grad_accum 2 on 3 ranks: 6 micro-batches, each a forward and a backward of twice its size.
  const StepCost cost = step_cost(c, 1, 2, 3);
  REQUIRE(cost.micro_batches == 6);
  REQUIRE(cost.tokens == 128 * 6);
  REQUIRE(cost.model_flops == 3 * model_forward * 6);   // 10874880
  REQUIRE(cost.executed_flops == 3 * executed_forward * 6);  // 8515584
  REQUIRE(cost.model_flops == 10874880);
  REQUIRE(cost.executed_flops == 8515584);
}
