// The trainer's parts seen from outside: the gradient hook, the run directory's
// start decisions, what a run records and how much it writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>

#include "test_data.h"
#include "train/checkpoint.h"
#include "data/corpus_checksum.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;

namespace {
bool any_nonzero(const Tensor& t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t[i] != 0) return true;
  return false;
}
}  // namespace

TEST_CASE("The gradient hook sees every parameter's gradient after backward, and AdamW uses what it leaves",
          "[train][hooks]") {
  TempDir dir("gradient_hook");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus, 6);
  rc.train.adamw.weight_decay = 0;  // zero gradients then leave every parameter as it is
  Trainer trainer(rc, engine, log);
  int calls = 0;
  bool saw_gradients = true;
  trainer.set_gradient_hook([&](std::span<Parameter* const> params) {
    ++calls;
    REQUIRE(params.size() == trainer.model().parameters().size());
    bool nonzero = false;
    for (Parameter* p : params) nonzero |= any_nonzero(p->grad);
    saw_gradients &= nonzero;  // backward has run
    for (Parameter* p : params) p->grad.fill(0);  // as if the other processes' gradients cancelled ours
  });
  trainer.run(dir.file("run"));
  REQUIRE(calls == 6);
  REQUIRE(saw_gradients);
  // Zero gradients: zero Adam moments and a zero update, so the model is still its initialisation.
  LanguageModel init(rc.model);
  Rng rng(rc.train.seed);
  init.init(rng);
  for (Parameter* p : trainer.model().parameters()) {
    INFO(p->name);
    REQUIRE(std::memcmp(p->value.data(), init.find_parameter(p->name)->value.data(), p->value.bytes()) == 0);
  }
}

TEST_CASE("A non-finite gradient left by the gradient hook is caught by the clip and the step skipped",
          "[train][hooks]") {
  TempDir dir("gradient_hook_nan");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  Trainer trainer(small_run(corpus, 6), engine, log);
  int calls = 0;
  trainer.set_gradient_hook([&](std::span<Parameter* const> params) {
    if (++calls == 3) params.front()->grad[0] = std::numeric_limits<float>::quiet_NaN();
  });
  trainer.run(dir.file("run"));
  REQUIRE(log.str().find("step 3: non-finite gradient, skipped (1 in a row, 1 in all)") != std::string::npos);
  REQUIRE(MetricsLog(dir.file("run/metrics.h5")).read().back().skipped_steps == 1);
}

TEST_CASE("The corpus checksum depends on the tokens only", "[train][corpus]") {
  TempDir dir("corpus_checksum");
  const std::string text = make_text(3, 5000);
  write_file(dir.file("a.txt"), text);
  write_file(dir.file("b.txt"), text);
  std::string changed = text;
  changed[100] = changed[100] == 'x' ? 'y' : 'x';
  write_file(dir.file("c.txt"), changed);
  prepare_corpus({dir.file("a.txt")}, dir.file("a.h5"), 0.1);
  prepare_corpus({dir.file("b.txt")}, dir.file("b.h5"), 0.1);  // other sources attribute, same tokens
  prepare_corpus({dir.file("c.txt")}, dir.file("c.h5"), 0.1);
  prepare_corpus({dir.file("a.txt")}, dir.file("d.h5"), 0.2);  // same tokens, split elsewhere
  const CorpusChecksum a = corpus_checksum(load_corpus(dir.file("a.h5")));
  REQUIRE(a == corpus_checksum(load_corpus(dir.file("b.h5"))));
  REQUIRE_FALSE(a == corpus_checksum(load_corpus(dir.file("c.h5"))));
  REQUIRE_FALSE(a == corpus_checksum(load_corpus(dir.file("d.h5"))));
  REQUIRE(a.train_tokens + a.val_tokens == static_cast<int64_t>(text.size()));
}

TEST_CASE("A checkpoint without a corpus checksum resumes with a warning, and the run records it from then on",
          "[train][corpus][resume]") {
  TempDir dir("corpus_checksum_old");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  RunConfig rc = small_run(corpus, 10);
  rc.train.checkpoint_every = 5;
  testing::CapturedLog log;
  {
    Trainer trainer(rc, engine, log);
    int steps = 0;
    trainer.set_stop_hook([&] { return ++steps == 5; });
    REQUIRE(trainer.run(dir.file("run")).interrupted);
  }
  // latest.h5 as a tokengrow from before the checksum wrote it.
  const std::string latest = dir.file("run/latest.h5");
  TrainState state;
  auto model = load_model(latest, &state);
  AdamW optimizer(rc.train.adamw, model->parameters());
  load_checkpoint(latest, *model, &optimizer, &state);
  REQUIRE(state.corpus.has_value());
  state.corpus.reset();
  save_checkpoint(latest, rc.to_json(), *model, &optimizer, state);
  REQUIRE_FALSE(read_checkpoint_state(latest).corpus.has_value());

  testing::CapturedLog resumed_log;
  Trainer resumed(rc, engine, resumed_log);
  REQUIRE(resumed.run(dir.file("run"), latest).steps == 10);
  REQUIRE(resumed_log.str().find("warning: " + latest + " records no corpus checksum (written by an older "
                                 "tokengrow); " + corpus + " is not checked against the corpus the run was trained on\n") !=
          std::string::npos);
  REQUIRE(read_checkpoint_state(latest).corpus == corpus_checksum(load_corpus(corpus)));
}

TEST_CASE("A training run's metrics grow by one fixed-size row per log point, and metrics.h5 is written at the end",
          "[train][metrics]") {
  TempDir dir("metrics_growth");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus, 40);
  rc.train.log_every = 1;
  rc.train.eval_every = 20;
  Trainer trainer(rc, engine, log);
  const std::string journal = dir.file("run/metrics.journal");
  std::set<uintmax_t> growth;
  uintmax_t last = 0;
  trainer.set_stop_hook([&] {
    const uintmax_t size = std::filesystem::file_size(journal);
    if (last > 0) growth.insert(size - last);
    last = size;
    REQUIRE_FALSE(std::filesystem::exists(dir.file("run/metrics.h5")));
    return false;
  });
  trainer.run(dir.file("run"));
  REQUIRE(growth == std::set<uintmax_t>{108});  // one row of 13 float64 and a CRC-32 per step, at step 2 as at 39
  REQUIRE_FALSE(std::filesystem::exists(journal));
  REQUIRE(MetricsLog(dir.file("run/metrics.h5")).read().size() == 41);
}

TEST_CASE("A checkpoint is written once: latest.h5 is the newest ckpt_<step>.h5 under a second name",
          "[train][checkpoint]") {
  TempDir dir("checkpoint_once");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus, 10);
  rc.train.checkpoint_every = 5;
  Trainer trainer(rc, engine, log);
  trainer.run(dir.file("run"));
  namespace fs = std::filesystem;
  REQUIRE(fs::equivalent(dir.file("run/latest.h5"), dir.file("run/ckpt_10.h5")));
  REQUIRE(fs::hard_link_count(dir.file("run/latest.h5")) == 2);
  REQUIRE(fs::hard_link_count(dir.file("run/ckpt_5.h5")) == 1);  // latest.h5 moved on to ckpt_10.h5
  REQUIRE_FALSE(fs::exists(dir.file("run/latest.h5.tmp")));
}

TEST_CASE("A run stopped before any validation reports no final validation loss, not a loss of 0",
          "[train][result]") {
  TempDir dir("no_val_loss");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  testing::CapturedLog log;
  RunConfig rc = small_run(corpus, 20);  // validates at steps 0, 10 and 20
  rc.train.checkpoint_every = 2;
  {
    Trainer trainer(rc, engine, log);
    int steps = 0;
    trainer.set_stop_hook([&] { return ++steps == 4; });
    const TrainResult r = trainer.run(dir.file("run"));
    REQUIRE(r.interrupted);
    REQUIRE(std::isfinite(r.first_val_loss));
    REQUIRE(std::isnan(r.final_val_loss));  // no validation after step 0
  }
  Trainer resumed(rc, engine, log);
  int steps = 0;
  resumed.set_stop_hook([&] { return ++steps == 2; });
  const TrainResult r = resumed.run(dir.file("run"), dir.file("run/latest.h5"));
  REQUIRE(r.interrupted);
  REQUIRE(std::isnan(r.first_val_loss));  // a resumed run has no stage start
  REQUIRE(std::isnan(r.final_val_loss));
}
