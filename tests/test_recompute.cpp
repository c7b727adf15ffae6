// train.recompute block: the same losses and gradients as none, to the bit.
#include <catch2/catch.hpp>

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
Trace train(Engine& engine, const ModelConfig& config, Recompute recompute) {
  LanguageModel model(config);
  model.set_recompute(recompute);
  Rng rng(3);
  model.init(rng);
  AdamW adam(AdamWConfig{}, model.parameters());
  std::vector<int32_t> inputs, targets;
  for (int64_t i = 0; i < 12; ++i) {
    inputs.push_back(static_cast<int32_t>(rng.below(13)));
    targets.push_back(static_cast<int32_t>(rng.below(13)));
  }
  Trace t;
  for (int step = 0; step < 4; ++step) {
    model.zero_grad();
    t.losses.push_back(model.forward(engine, inputs, targets, 2, 6, true));
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
  REQUIRE_THROWS_WITH(parse_recompute("attention"), Catch::Contains("expected none or block"));
}
