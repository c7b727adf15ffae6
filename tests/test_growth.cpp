// The growth operator: exactness, trainability of new tokens, tau modes, and
// optimizer state carried across growth.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "growth/grow.h"
#include "growth/grow_checkpoint.h"
#include "gradcheck.h"
#include "test_data.h"
#include "trained_growth_base.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;

namespace {

struct Batch {
  std::vector<int32_t> inputs, targets;
};

Batch a_batch(const Trained& t) {
  const Corpus corpus = load_corpus(t.corpus);
  Batch b;
  window_batch(corpus.val, t.config.model.seq_len, 0, 8, b.inputs, b.targets);
  return b;
}

double loss_of(Engine& engine, LanguageModel& m, const Batch& b, bool grad = false) {
  if (grad) m.zero_grad();
  const double loss = m.forward(engine, b.inputs, b.targets, 8, 16, grad);
  if (grad) m.backward(engine);
  return loss;
}

// Max |x| over the rows from `first_row` on.
double max_abs_rows(const Tensor& t, int64_t first_row) {
  double mx = 0;
  for (int64_t i = first_row * t.cols(); i < t.numel(); ++i) mx = std::max(mx, static_cast<double>(std::abs(t[i])));
  return mx;
}

const GrowthTarget kTarget{24, 20, 40};

}  // namespace

TEST_CASE("Growth with zero new keys and fixed tau is exact and the new tokens train", "[growth]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const Batch batch = a_batch(*t);
  const double before = loss_of(engine, *t->model, batch);
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.value_init = ValueInit::Normal;
  o.tau = TauGrowth::Fixed;
  GrownModel g = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  REQUIRE(g.warnings.empty());
  const double after = loss_of(engine, *g.model, batch, true);
  REQUIRE(std::abs(after - before) / before < 1e-6);
  // Old rows copied bit for bit; new key rows zero.
  for (Parameter* p : g.model->parameters()) {
    const Parameter* old = t->model->find_parameter(p->name);
    REQUIRE(std::memcmp(p->value.data(), old->value.data(), old->value.bytes()) == 0);
  }
  for (size_t i = 0; i < g.model->pattentions().size(); ++i) {
    Pattention* p = g.model->pattentions()[i];
    const int64_t old_n = t->model->pattentions()[i]->n_tokens();
    REQUIRE(max_abs_rows(p->keys().value, old_n) == 0.0);
    REQUIRE(p->tau() == t->model->pattentions()[i]->tau());
    // New keys get gradient through GELU'(0) = 0.5 and V_new != 0. (dV_new = S_new^T dY
    // is 0 at this instant since S_new = GELU(0) = 0; it becomes non-zero once the keys move.)
    REQUIRE(max_abs_rows(p->keys().grad, old_n) > 0.0);
  }
}

TEST_CASE("Zero-key fixed-tau growth is measured exact for the L2 normalisations and flagged not exact for softmax",
          "[growth]") {
  Engine engine(2);
  for (PattentionNorm norm : {PattentionNorm::L2NormGelu, PattentionNorm::GeluL2Norm, PattentionNorm::Softmax}) {
    auto t = trained_model(engine, norm);
    const std::string base = t->dir.file("base/latest.h5");
    GrowthOptions o;
    o.key_init = KeyInit::Zero;
    o.tau = TauGrowth::Fixed;
    const GrowReport r = grow_checkpoint(engine, base, t->dir.file("grown.h5"), kTarget, o);
    INFO(to_string(norm) << ": loss " << r.val_loss_before << " -> " << r.val_loss_after);
    const bool softmax_note = std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) {
      return n.find("softmax normalisation: each zero new key scores exp(0)") != std::string::npos;
    });
    if (norm == PattentionNorm::Softmax) {
      REQUIRE_FALSE(r.exact());
      REQUIRE(std::abs(r.relative_change()) > 1e-3);
      REQUIRE(softmax_note);
    } else {
      REQUIRE(r.exact());
      REQUIRE(std::abs(r.relative_change()) < 1e-6);
      REQUIRE_FALSE(softmax_note);
    }
  }
}

TEST_CASE("Growth keeps each layer's tau when fixed and recomputes it when dynamic", "[growth]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const Batch batch = a_batch(*t);
  const double before = loss_of(engine, *t->model, batch);
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.tau = TauGrowth::Dynamic;
  GrownModel g = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  for (size_t i = 0; i < g.model->pattentions().size(); ++i) {
    Pattention* p = g.model->pattentions()[i];
    REQUIRE(p->tau() == Approx(std::sqrt(static_cast<float>(p->n_tokens()))));
    REQUIRE(p->tau() > t->model->pattentions()[i]->tau());
  }
  REQUIRE(g.model->config().tau_mode == TauMode::Dynamic);
  REQUIRE_FALSE(g.notes.empty());
  // Not output-preserving: the loss moves (by far more than the 1e-6 of exact
  // growth) and a layer's output changes substantially.
  const double after = loss_of(engine, *g.model, batch);
  REQUIRE(std::abs(after - before) / before > 1e-5);
  Rng rng(1);
  Tensor x({16, 16}), y_old, y_new;
  fill_normal(x, rng);
  Pattention* old_ffn = t->model->pattentions().back();
  Pattention* new_ffn = g.model->pattentions().back();
  old_ffn->forward(engine, x, y_old);
  new_ffn->forward(engine, x, y_new);
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < y_old.numel(); ++i) {
    diff += (y_new[i] - y_old[i]) * (y_new[i] - y_old[i]);
    norm += y_old[i] * y_old[i];
  }
  REQUIRE(std::sqrt(diff / norm) > 0.1);
}

TEST_CASE("Annealed tau starts exact and ends at the new sqrt(n)", "[growth]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const Batch batch = a_batch(*t);
  const double before = loss_of(engine, *t->model, batch);
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.tau = TauGrowth::Anneal;
  o.anneal_steps = 50;
  GrownModel g = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  REQUIRE(std::abs(loss_of(engine, *g.model, batch) - before) / before < 1e-6);
  Pattention* ffn = g.model->pattentions().back();
  const float old_tau = t->model->pattentions().back()->tau();
  g.model->set_step(t->state.step + 25);
  REQUIRE(ffn->tau() == Approx(0.5f * (old_tau + std::sqrt(40.0f))));
  g.model->set_step(t->state.step + 50);
  REQUIRE(ffn->tau() == Approx(std::sqrt(40.0f)));
  g.model->set_step(t->state.step + 500);
  REQUIRE(ffn->tau() == Approx(std::sqrt(40.0f)));
  // The anneal survives a checkpoint round trip.
  save_checkpoint(t->dir.file("g.h5"), t->config.to_json(), *g.model, g.optimizer.get(), g.state);
  ModelConfig mc = g.model->config();
  LanguageModel loaded(mc);
  load_checkpoint(t->dir.file("g.h5"), loaded, nullptr, nullptr);
  loaded.set_step(t->state.step + 25);
  REQUIRE(loaded.pattentions().back()->tau() == Approx(0.5f * (old_tau + std::sqrt(40.0f))));
}

TEST_CASE("New tokens with zero keys and zero values get exactly zero gradient", "[growth]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const Batch batch = a_batch(*t);
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.value_init = ValueInit::Zero;
  o.tau = TauGrowth::Fixed;
  GrownModel g = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  REQUIRE(g.warnings.size() == 1);
  loss_of(engine, *g.model, batch, true);
  for (Pattention* p : g.model->pattentions()) {
    const int64_t old_n = t->model->find_parameter(p->keys().name)->value.dim(0);
    REQUIRE(max_abs_rows(p->keys().grad, old_n) == 0.0);
    REQUIRE(max_abs_rows(p->values().grad, old_n) == 0.0);
    REQUIRE(max_abs_rows(p->keys().grad, 0) > 0.0);  // old tokens still train
  }
}

TEST_CASE("With optimizer keep a new row's first update equals a fresh Adam step", "[growth][adam]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const Batch batch = a_batch(*t);
  GrowthOptions o;
  o.optimizer = OptimizerGrowth::Keep;
  GrownModel g = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  // The same grown model, stepped once by the kept optimizer and once by a fresh one.
  GrownModel fresh_copy = grow_model(*t->model, t->optimizer.get(), t->config.train.adamw, t->state, kTarget, o);
  AdamW fresh(t->config.train.adamw, fresh_copy.model->parameters());
  loss_of(engine, *g.model, batch, true);
  loss_of(engine, *fresh_copy.model, batch, true);
  g.optimizer->step(1e-3);
  fresh.step(1e-3);
  bool old_rows_differ = false;
  for (Pattention* p : g.model->pattentions()) {
    const int64_t old_n = t->model->find_parameter(p->keys().name)->value.dim(0);
    for (Parameter* param : {&p->keys(), &p->values()}) {
      const Tensor& kept = param->value;
      const Tensor& reset = fresh_copy.model->find_parameter(param->name)->value;
      const int64_t cols = kept.cols();
      REQUIRE(std::memcmp(kept.data() + old_n * cols, reset.data() + old_n * cols,
                          sizeof(float) * (kept.numel() - old_n * cols)) == 0);
      old_rows_differ |= std::memcmp(kept.data(), reset.data(), sizeof(float) * old_n * cols) != 0;
      // Old rows kept their step counts, new rows have taken exactly one step.
      const auto& steps = g.optimizer->state(param->name).row_steps;
      REQUIRE(steps.front() == t->state.step + 1);
      REQUIRE(steps.back() == 1);
    }
  }
  REQUIRE(old_rows_differ);  // old rows used their kept moments
}

TEST_CASE("Growth refuses shrinking, token growth of a Transformer, and depth beyond a config's limit",
          "[growth][errors]") {
  ModelConfig m;
  m.qkv_tokens = 32;
  m.proj_tokens = 32;
  m.ffn_tokens = 128;
  m.n_layers = 4;
  REQUIRE_THROWS_WITH(check_growth_target(m, {16, 32, 128}), Catch::Contains("fewer tokens"));
  REQUIRE_THROWS_AS(growth_target_from_factor(m, 0.5), UserError);
  REQUIRE_THROWS_WITH(check_growth_target(m, {32, 32, 128, 3}),
                      Catch::Contains("n_layers: growth target 3, but the model has 4; expected an integer in [4, 1024]"));
  REQUIRE_THROWS_WITH(check_growth_target(m, {32, 32, 128, 1025}), Catch::Contains("growth target 1025"));
  REQUIRE_NOTHROW(check_growth_target(m, {32, 32, 128, 8}));
  m.architecture = Architecture::Transformer;
  REQUIRE_THROWS_WITH(check_growth_target(m, {64, 64, 256}),
                      Catch::Contains("this checkpoint is a transformer (grow it in depth, --layers, or width, --d-model)"));
  REQUIRE_NOTHROW(check_growth_target(m, {32, 32, 128, 8}));  // depth growth of a Transformer
  const GrowthTarget doubled = growth_target_from_factor(ModelConfig{}, 2.0);
  REQUIRE(doubled.qkv_tokens == 256);
  REQUIRE(doubled.ffn_tokens == 1024);
}

TEST_CASE("Growth targets are bounded like a config's token counts, and factors are finite", "[growth][errors]") {
  ModelConfig m;
  m.qkv_tokens = 32;
  m.proj_tokens = 32;
  m.ffn_tokens = 128;
  // model.qkv_tokens etc. accept at most 2^20 in a config: a target beyond is refused
  // before anything is allocated (a 2.4 GB checkpoint that train then refused).
  REQUIRE_THROWS_WITH(check_growth_target(m, {2000000, 32, 128}),
                      Catch::Contains("qkv_tokens") && Catch::Contains("[1, 1048576]") && Catch::Contains("2000000"));
  REQUIRE_THROWS_WITH(check_growth_target(m, {32, 32, int64_t{1} << 21}), Catch::Contains("ffn_tokens"));
  check_growth_target(m, {int64_t{1} << 20, 32, 128});  // the largest allowed
  // Factors: bad_alloc at 1e9, negative counts from an overflowing conversion at 1e300.
  for (const double factor : {1e9, 1e300, std::numeric_limits<double>::infinity()})
    REQUIRE_THROWS_WITH(check_growth_target(m, growth_target_from_factor(m, factor)), Catch::Contains("--factor"));
  REQUIRE_THROWS_WITH(growth_target_from_factor(m, std::nan("")), Catch::Contains("--factor"));
  REQUIRE_THROWS_WITH(growth_target_from_factor(m, -2), Catch::Contains("--factor"));
  const GrowthTarget big = growth_target_from_factor(m, 8192.0);  // 32 x 8192 = 2^18, 128 x 8192 = 2^20
  REQUIRE(big.qkv_tokens == 262144);
  REQUIRE(big.ffn_tokens == 1048576);
}

TEST_CASE("grow_checkpoint writes a checkpoint that trains as a new stage", "[growth][stage]") {
  Engine engine(2);
  auto t = trained_model(engine);
  GrowthOptions o;
  o.key_init = KeyInit::Zero;
  o.tau = TauGrowth::Fixed;
  const GrowReport r = grow_checkpoint(engine, t->dir.file("base/latest.h5"), t->dir.file("grown.h5"), kTarget, o);
  REQUIRE(r.val_loss_after == Approx(r.val_loss_before).epsilon(1e-6));
  RunConfig next = parse_run_config(read_checkpoint_config(t->dir.file("grown.h5")), "grown");
  REQUIRE(next.model.ffn_tokens == 40);
  REQUIRE(next.growth["tau"] == "fixed");
  next.train.steps = 10;
  testing::CapturedLog log;
  Trainer trainer(next, engine, log);
  const TrainResult res = trainer.run(t->dir.file("stage1"), t->dir.file("grown.h5"));
  REQUIRE(res.steps == 40);  // 30 base steps + 10 in the new stage
  REQUIRE(res.first_val_loss == Approx(r.val_loss_after).epsilon(1e-9));
  TrainState s;
  load_model(t->dir.file("stage1/latest.h5"), &s);
  REQUIRE(s.stage == 1);
  REQUIRE(s.stage_start_step == 30);
  REQUIRE(s.tokens == 40 * 8 * 16);
}

TEST_CASE("Freezing: with train_old false old rows stay unchanged to the bit while new rows train, freeze_steps "
          "frees them after K steps, and both survive a resume", "[growth][freeze]") {
  Engine engine(2);
  auto t = trained_model(engine);
  const std::string base = t->dir.file("base/latest.h5");
  // Depth and tokens at once: old rows of old blocks frozen, new rows and the new block train.
  const GrowthTarget target{24, 20, 40, 3};
  auto train_from = [&](const std::string& grown, const std::string& out, int64_t steps) {
    RunConfig next = parse_run_config(read_checkpoint_config(grown), "grown");
    next.train.steps = steps;
    next.train.eval_every = 2;  // checkpoints every 2 steps
    next.train.warmup_steps = 1;
    testing::CapturedLog log;
    Trainer(next, engine, log).run(out, grown);
  };
  auto model_of = [&](const std::string& path, TrainState* state = nullptr) {
    RunConfig rc = parse_run_config(read_checkpoint_config(path), path);
    auto m = std::make_unique<LanguageModel>(rc.model);
    TrainState s;
    load_checkpoint(path, *m, nullptr, &s);
    if (state) *state = s;
    return m;
  };
  // Old rows (the leading rows the old model had) equal to the bit; rows after them differ.
  auto compare = [&](LanguageModel& grown, LanguageModel& trained, bool old_same) {
    for (Parameter* p : grown.parameters()) {
      const Parameter* q = trained.find_parameter(p->name);
      const Parameter* old = t->model->find_parameter(p->name);
      const int64_t block = block_of(p->name);
      INFO(p->name);
      if (block == 2) {  // the new identity block trains
        REQUIRE(std::memcmp(p->value.data(), q->value.data(), p->value.bytes()) != 0);
        continue;
      }
      const size_t old_bytes = old->value.bytes();
      REQUIRE((std::memcmp(p->value.data(), q->value.data(), old_bytes) == 0) == old_same);
      if (p->value.bytes() > old_bytes)
        REQUIRE(std::memcmp(p->value.data() + old->value.numel(), q->value.data() + old->value.numel(),
                            p->value.bytes() - old_bytes) != 0);
    }
  };

  GrowthOptions frozen;
  frozen.tau = TauGrowth::Fixed;
  frozen.train_old = false;
  grow_checkpoint(engine, base, t->dir.file("frozen.h5"), target, frozen);
  TrainState grown_state;
  auto grown = model_of(t->dir.file("frozen.h5"), &grown_state);
  REQUIRE(grown_state.freeze_until_step == TrainState::kFrozenForGood);
  REQUIRE(grown_state.frozen_rows.at("layers/0/ffn/keys") == 16);
  REQUIRE(grown_state.frozen_rows.count("layers/2/ffn/keys") == 0);
  train_from(t->dir.file("frozen.h5"), t->dir.file("frozen_run"), 3);
  compare(*grown, *model_of(t->dir.file("frozen_run/latest.h5")), true);
  // Resumed from its step-2 checkpoint, the freeze still holds.
  train_from(t->dir.file("frozen_run/ckpt_32.h5"), t->dir.file("frozen_resumed"), 5);
  compare(*grown, *model_of(t->dir.file("frozen_resumed/latest.h5")), true);

  GrowthOptions for_two = frozen;
  for_two.train_old = true;
  for_two.freeze_steps = 2;
  grow_checkpoint(engine, base, t->dir.file("two.h5"), target, for_two);
  train_from(t->dir.file("two.h5"), t->dir.file("two_run"), 4);
  auto grown_two = model_of(t->dir.file("two.h5"));
  compare(*grown_two, *model_of(t->dir.file("two_run/ckpt_32.h5")), true);   // after 2 steps: still frozen
  compare(*grown_two, *model_of(t->dir.file("two_run/latest.h5")), false);   // after 4: the old rows moved
}
