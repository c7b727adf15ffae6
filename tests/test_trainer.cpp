// The trainer's parts seen from outside: the gradient hook, the run directory's
// start decisions, what a run records and how much it writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "test_data.h"
#include "train/checkpoint.h"
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
  std::ostringstream log;
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
  std::ostringstream log;
  Trainer trainer(small_run(corpus, 6), engine, log);
  int calls = 0;
  trainer.set_gradient_hook([&](std::span<Parameter* const> params) {
    if (++calls == 3) params.front()->grad[0] = std::numeric_limits<float>::quiet_NaN();
  });
  trainer.run(dir.file("run"));
  REQUIRE(log.str().find("step 3: non-finite gradient, skipped (1 in a row, 1 in all)") != std::string::npos);
  REQUIRE(MetricsLog(dir.file("run/metrics.h5")).read().back().skipped_steps == 1);
}
