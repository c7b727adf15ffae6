// train.recompute block: the same losses and gradients as none, to the bit.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "core/engine.h"
#include "growth_fixture.h"
#include "train/adamw.h"

using namespace tg;
using namespace tg::testing;

namespace {

struct Trace {
  std::vector<double> losses;
  std::vector<std::vector<float>> grads;  // every parameter's gradient after the last step
};

// Four AdamW steps on a fixed batch; gradients recorded after the last backward.
Trace train(Engine& engine, const ModelConfig& config, Recompute recompute, int64_t seq = 6) {
  LanguageModel model(config);
  model.set_recompute(recompute);
  Rng rng(3);
  model.init(rng);
  AdamW adam(AdamWConfig{}, model.parameters());
  std::vector<int32_t> inputs, targets;
  for (int64_t i = 0; i < 2 * seq; ++i) {
    inputs.push_back(static_cast<int32_t>(rng.below(13)));
    targets.push_back(static_cast<int32_t>(rng.below(13)));
  }
  Trace t;
  for (int step = 0; step < 4; ++step) {
    model.zero_grad();
    t.losses.push_back(model.forward(engine, inputs, targets, 2, seq, true));
    model.backward(engine);
    adam.step(1e-2);
  }
  for (Parameter* p : model.parameters()) t.grads.emplace_back(p->grad.data(), p->grad.data() + p->grad.numel());
  return t;
}

}  // namespace

TEST_CASE("recompute block gives none's losses and gradients bit for bit", "[recompute]") {
  Engine engine(2);
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer})
    for (Precision p : {Precision::FP32, Precision::BF16})
      for (WeightFormat w : {WeightFormat::Float, WeightFormat::Ternary}) {
        if (p == Precision::BF16 && !engine.supports_bf16()) continue;
        DYNAMIC_SECTION(to_string(arch) << " " << to_string(p) << " " << to_string(w)) {
          ModelConfig c = small_model(arch, PattentionNorm::L2NormGelu, w);
          c.precision = p;
          const Trace none = train(engine, c, Recompute::None);
          const Trace block = train(engine, c, Recompute::Block);
          for (size_t s = 0; s < none.losses.size(); ++s) {
            INFO("step " << s);
            REQUIRE(std::memcmp(&none.losses[s], &block.losses[s], sizeof(double)) == 0);
          }
          REQUIRE(none.grads.size() == block.grads.size());
          for (size_t i = 0; i < none.grads.size(); ++i) {
            INFO("parameter " << i);
            REQUIRE(none.grads[i].size() == block.grads[i].size());
            REQUIRE(std::memcmp(none.grads[i].data(), block.grads[i].data(), none.grads[i].size() * sizeof(float)) == 0);
          }
          // The losses move: the comparison is over a trained trajectory, not one point.
          REQUIRE(none.losses.back() != none.losses.front());
        }
      }
  REQUIRE(parse_recompute("block") == Recompute::Block);
}

TEST_CASE("recompute attention gives none's losses bit for bit and its gradients to rounding", "[recompute]") {
  // seq 130: three causal blocks of attention (64, 64, 2 rows), so the probabilities are
  // really formed block by block. The forward is the same arithmetic (losses equal to the
  // bit); dk and dv are summed block by block in the backward, so gradients, and with them
  // the weights after each AdamW step, agree to float rounding only.
  Engine engine(2);
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer})
    for (Precision p : {Precision::FP32, Precision::BF16}) {
      if (p == Precision::BF16 && !engine.supports_bf16()) continue;
      DYNAMIC_SECTION(to_string(arch) << " " << to_string(p)) {
        ModelConfig c = small_model(arch);
        c.precision = p;
        c.seq_len = 130;
        const Trace none = train(engine, c, Recompute::None, 130);
        const Trace attention = train(engine, c, Recompute::Attention, 130);
        REQUIRE(std::memcmp(&none.losses[0], &attention.losses[0], sizeof(double)) == 0);
        for (size_t s = 1; s < none.losses.size(); ++s) REQUIRE(attention.losses[s] == Approx(none.losses[s]).epsilon(1e-5));
        REQUIRE(none.grads.size() == attention.grads.size());
        for (size_t i = 0; i < none.grads.size(); ++i) {
          double diff = 0, norm = 0;
          for (size_t j = 0; j < none.grads[i].size(); ++j) {
            diff += std::pow(double(attention.grads[i][j]) - none.grads[i][j], 2);
            norm += std::pow(double(none.grads[i][j]), 2);
          }
          INFO("parameter " << i << ": relative L2 difference " << std::sqrt(diff / norm));
          REQUIRE(std::sqrt(diff / norm) < (p == Precision::FP32 ? 1e-4 : 1e-2));
        }
        REQUIRE(none.losses.back() != none.losses.front());
      }
    }
  REQUIRE(parse_recompute("attention") == Recompute::Attention);
  REQUIRE_THROWS_WITH(parse_recompute("flash"), Catch::Contains("expected none, attention or block"));
}
