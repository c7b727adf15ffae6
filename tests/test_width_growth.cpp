// Width growth (growth/width_map.h, HyperCloning) on both architectures: exact for every
// normalisation and factor, with and without the zero-sum noise; the gradient of every
// grown parameter is the predicted multiple c of the old one (measured by backprop); the
// first Adam update of every copy equals the old model's; the noise separates the copies
// and no noise does not; finite differences; width, depth and tokens in one step.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "growth/width_map.h"
#include "gradcheck.h"
#include "growth_fixture.h"

using namespace tg;
using namespace tg::testing;

namespace {

GrowthTarget wider(const ModelConfig& c, int64_t d_model) {
  return {c.qkv_tokens, c.proj_tokens, c.ffn_tokens, 0, d_model};
}

// max |a - b| / max |b|
double relative_max(const Tensor& a, const Tensor& b) {
  double diff = 0;
  for (int64_t i = 0; i < a.numel(); ++i) diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
  return diff / max_abs(b);
}

// The old tensor as it would sit in the grown parameter p: tiled k times along the
// width axes, times `scale`.
Tensor tiled(const Tensor& old, const Parameter& p, int64_t k, float scale) {
  Tensor out(p.value.shape());
  tile_into(old, p.axes, k, scale, out);
  return out;
}

struct Case {
  Architecture arch;
  PattentionNorm norm;
};
const Case kCases[] = {{Architecture::TokenFormer, PattentionNorm::L2NormGelu},
                       {Architecture::TokenFormer, PattentionNorm::GeluL2Norm},
                       {Architecture::TokenFormer, PattentionNorm::Softmax},
                       {Architecture::Transformer, PattentionNorm::L2NormGelu}};

}  // namespace

TEST_CASE("Tiling clones width axes, keeps old token rows first and leaves new rows alone", "[growth][width]") {
  Parameter p("layers/0/ffn/keys", {3, 4}, {Axis::Tokens, Axis::Model}, OptimizerGroup::Decay, 1);
  Tensor old({2, 2});
  for (int64_t i = 0; i < 4; ++i) old[i] = static_cast<float>(i + 1);  // [[1, 2], [3, 4]]
  p.value.fill(-7);
  tile_into(old, p.axes, 2, 0.5f, p.value);
  const std::vector<float> expected = {0.5f, 1, 0.5f, 1, 1.5f, 2, 1.5f, 2, -7, -7, -7, -7};
  for (int64_t i = 0; i < 12; ++i) REQUIRE(p.value[i] == expected[i]);
  REQUIRE(width_value_scale(p, 2) == 0.5f);     // keys sum over d
  REQUIRE(width_gradient_scale(p, 2) == 1.0f);  // their outputs, the scores, are unchanged
}

TEST_CASE("Width growth is exact on both architectures, every normalisation, k = 2 and 3, with and without noise",
          "[growth][width]") {
  Engine engine(2);
  for (const Case c : kCases)
    for (int64_t k : {2, 3})
      for (double noise : {0.0, 0.1}) {
        DYNAMIC_SECTION(to_string(c.arch) << " " << to_string(c.norm) << " k " << k << " noise " << noise) {
          Fixture f = make_fixture(engine, c.arch, c.norm);
          GrowthOptions o;
          o.width_noise = noise;
          const double before = loss_of(engine, *f.model, f);
          const Tensor logits_before = logits_of(engine, *f.model, f);
          GrownModel g = grow_model(*f.model, f.optimizer.get(), AdamWConfig{}, f.state, wider(f.config, 8 * k), o);
          const ModelConfig& m = g.model->config();
          REQUIRE(m.d_model == 8 * k);
          REQUIRE(m.n_heads == 2 * k);
          REQUIRE(m.head_dim() == f.config.head_dim());
          if (c.arch == Architecture::Transformer) REQUIRE(m.ffn_hidden == 12 * k);
          REQUIRE(g.model->n_params() > f.model->n_params());
          const double after = loss_of(engine, *g.model, f);
          REQUIRE(std::abs(after - before) / before < 1e-6);
          REQUIRE(relative_max(logits_of(engine, *g.model, f), logits_before) < 1e-5);
        }
      }
}

TEST_CASE("A widened parameter's gradient is c times the old one, tiled, as width_map.h derives", "[growth][width]") {
  Engine engine(2);
  for (const Case c : kCases) {
    DYNAMIC_SECTION(to_string(c.arch) << " " << to_string(c.norm)) {
      Fixture f = make_fixture(engine, c.arch, c.norm);
      GrowthOptions o;
      o.width_noise = 0;  // the copies identical, so each gradient is a tiled copy
      GrownModel g = grow_model(*f.model, nullptr, AdamWConfig{}, f.state, wider(f.config, 16), o);
      loss_of(engine, *f.model, f, true);
      loss_of(engine, *g.model, f, true);
      for (Parameter* p : g.model->parameters()) {
        const Parameter* old = f.model->find_parameter(p->name);
        INFO(p->name << " c = " << width_gradient_scale(*p, 2));
        REQUIRE(relative_l2(p->grad, tiled(old->grad, *p, 2, width_gradient_scale(*p, 2))) < 1e-5);
      }
    }
  }
}

TEST_CASE("With optimizer keep every copy's first update after width growth equals the old model's update",
          "[growth][width][adam]") {
  Engine engine(2);
  AdamWConfig adam;
  adam.weight_decay = 0;  // decoupled decay acts on W / k, not on W (width_map.h)
  // sqrt(v') = c sqrt(v) but eps is not scaled: where sqrt(v) is within a few orders of
  // eps (the attention key projection's small gradients) the updates would differ by eps.
  adam.eps = 1e-20;
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
    DYNAMIC_SECTION(to_string(arch)) {
      Fixture f = make_fixture(engine, arch, PattentionNorm::L2NormGelu, adam);
      GrowthOptions o;
      o.width_noise = 0;
      GrownModel g = grow_model(*f.model, f.optimizer.get(), adam, f.state, wider(f.config, 16), o);
      std::vector<Tensor> grown_before, old_before;
      for (Parameter* p : g.model->parameters()) grown_before.push_back(p->value);
      for (Parameter* p : f.model->parameters()) old_before.push_back(p->value);
      loss_of(engine, *f.model, f, true);
      f.optimizer->step(1e-2);
      loss_of(engine, *g.model, f, true);
      g.optimizer->step(1e-2);
      for (size_t i = 0; i < g.model->parameters().size(); ++i) {
        Parameter* p = g.model->parameters()[i];
        Parameter* old = f.model->find_parameter(p->name);
        Tensor old_update = old->value, grown_update = p->value;
        for (int64_t j = 0; j < old_update.numel(); ++j) old_update[j] -= old_before[i][j];
        for (int64_t j = 0; j < grown_update.numel(); ++j) grown_update[j] -= grown_before[i][j];
        INFO(p->name);
        REQUIRE(max_abs(old_update) > 0);
        REQUIRE(relative_max(grown_update, tiled(old_update, *p, 2, 1.0f)) < 1e-4);
      }
    }
  }
}

TEST_CASE("The zero-sum noise separates the copies in training, without it they stay identical", "[growth][width]") {
  Engine engine(2);
  for (double noise : {0.0, 0.1}) {
    DYNAMIC_SECTION("noise " << noise) {
      Fixture f = make_fixture(engine, Architecture::TokenFormer);
      GrowthOptions o;
      o.width_noise = noise;
      GrownModel g = grow_model(*f.model, f.optimizer.get(), AdamWConfig{}, f.state, wider(f.config, 16), o);
      for (int step = 0; step < 3; ++step) {
        loss_of(engine, *g.model, f, true);
        g.optimizer->step(1e-2);
      }
      // The embedding's two copies of each row (columns j and j + 8).
      const Tensor& e = g.model->find_parameter("embedding")->value;
      double diff = 0;
      for (int64_t v = 0; v < 13; ++v)
        for (int64_t j = 0; j < 8; ++j) diff = std::max(diff, static_cast<double>(std::abs(e[v * 16 + j] - e[v * 16 + j + 8])));
      INFO("largest difference between the copies " << diff << ", embedding max " << max_abs(e));
      if (noise == 0)
        REQUIRE(diff < 1e-6 * max_abs(e));
      else
        REQUIRE(diff > 1e-3 * max_abs(e));
    }
  }
}

TEST_CASE("A width-grown model's gradient matches finite differences", "[growth][width][gradcheck]") {
  Engine engine(2);
  for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
    DYNAMIC_SECTION(to_string(arch)) {
      Fixture f = make_fixture(engine, arch);
      GrownModel g = grow_model(*f.model, nullptr, AdamWConfig{}, f.state, wider(f.config, 16), GrowthOptions{});
      LanguageModel& m = *g.model;
      loss_of(engine, m, f, true);
      auto loss = [&] { return loss_of(engine, m, f); };
      for (Parameter* p : m.parameters())
        if (block_of(p->name) == 1 || block_of(p->name) < 0)
          check_gradient(p->name, p->value.data(), p->grad.data(), p->value.numel(), loss, 1e-2, 2e-4, 2e-2, 3);
    }
  }
}

TEST_CASE("Width, depth and tokens grow in one step and stay exact with zero keys, identity blocks and kept tau",
          "[growth][width][depth]") {
  Engine engine(2);
  Fixture f = make_fixture(engine, Architecture::TokenFormer);
  const GrowthOptions o = exact_token_options();
  const double before = loss_of(engine, *f.model, f);
  GrownModel g = grow_model(*f.model, f.optimizer.get(), AdamWConfig{}, f.state, {12, 10, 20, 3, 16}, o);
  REQUIRE(g.model->find_parameter("layers/0/ffn/keys")->value.shape() == std::vector<int64_t>{20, 16});
  REQUIRE(g.model->find_parameter("layers/2/attn/query/values")->value.shape() == std::vector<int64_t>{12, 16});
  REQUIRE(std::abs(loss_of(engine, *g.model, f) - before) / before < 1e-6);
  // New token rows of a widened key start at zero moments and step count 0.
  const AdamWState& s = g.optimizer->state("layers/0/ffn/keys");
  REQUIRE(s.row_steps.size() == 20);
  REQUIRE(s.row_steps[9] == 2);
  REQUIRE(s.row_steps[10] == 0);
}

TEST_CASE("Width growth refuses a factor that is not an integer and freezing", "[growth][width][errors]") {
  Engine engine(2);
  Fixture f = make_fixture(engine, Architecture::Transformer);
  REQUIRE_THROWS_WITH(check_growth_target(f.config, wider(f.config, 12)),
                      Catch::Contains("d_model: growth target 12") && Catch::Contains("multiple of 8"));
  REQUIRE_THROWS_WITH(check_growth_target(f.config, wider(f.config, 4)), Catch::Contains("multiple of 8"));
  GrowthOptions o;
  o.train_old = false;
  REQUIRE_THROWS_WITH(grow_model(*f.model, nullptr, AdamWConfig{}, f.state, wider(f.config, 16), o),
                      Catch::Contains("width growth tiles every parameter"));
}

TEST_CASE("The growth between two configs: a Transformer's defaulted token counts are no target, errors name where",
          "[growth][width][errors]") {
  ModelConfig from = small_model(Architecture::Transformer);
  ModelConfig to = from;
  to.d_model = 16;
  to.n_heads = 4;
  to.ffn_hidden = 24;
  to.qkv_tokens = to.proj_tokens = 16;  // what a config that leaves them out holds: its d
  to.ffn_tokens = 64;
  const GrowthTarget target = growth_target_to(from, to, "wide.json");
  REQUIRE(target.d_model == 16);
  REQUIRE(target.qkv_tokens == from.qkv_tokens);
  REQUIRE(target.ffn_tokens == from.ffn_tokens);
  check_growth_target(from, target);  // no token growth asked of a Transformer
  to.d_model = 12;
  REQUIRE_THROWS_WITH(growth_target_to(from, to, "wide.json"), Catch::StartsWith("wide.json: d_model: growth target 12"));
  to.d_model = 16;
  to.n_heads = 2;
  REQUIRE_THROWS_WITH(growth_target_to(from, to, "wide.json"), Catch::Contains("wide.json: model.n_heads 2, expected 4"));
  to.n_heads = 4;
  to.architecture = Architecture::TokenFormer;
  REQUIRE_THROWS_WITH(growth_target_to(from, to, "wide.json"), Catch::Contains("growth keeps the architecture"));
}
