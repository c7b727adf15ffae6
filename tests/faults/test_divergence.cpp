// Non-finite loss or gradients: a NaN is planted in a parameter before a chosen
// step (through the trainer's step hook); the step must be skipped and counted,
// and K bad steps in a row must roll back (with a lower LR) or stop, as configured.
#include <limits>
#include <sstream>

#include "core/engine.h"
#include "fault_fixtures.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::faults;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

RunConfig config_with(const RunSetup& s, const std::string& train_extra) {
  write_file(s.config, train_config(s.data, 12, train_extra));
  return load_run_config(s.config);
}

// Poisons embedding row 0 before the `at`-th attempt of step `step` (counting
// attempts, since a skipped step is tried again) and, if `transient`, restores it
// at the next attempt.
struct NanPlanter {
  int64_t step;
  bool transient;
  int attempts = 0;
  float saved = 0;
  void operator()(int64_t next_step, LanguageModel& model) {
    if (next_step != step) return;
    float& weight = model.find_parameter("embedding")->value[0];
    if (++attempts == 1) {
      saved = weight;
      weight = kNaN;
    } else if (attempts == 2 && transient) {
      weight = saved;
    }
  }
};
}  // namespace

TEST_CASE("One non-finite step is skipped and counted, training goes on", "[faults][divergence]") {
  RunSetup s("nan_once", 12);
  const RunConfig config = config_with(s, R"(, "max_bad_steps": 3)");
  Engine engine(2);
  std::ostringstream log;
  Trainer trainer(config, engine, log);
  trainer.set_step_hook(NanPlanter{5, true});
  trainer.run(s.run_dir("run"));
  const auto rows = MetricsLog(s.run_dir("run/metrics.h5")).read();
  REQUIRE(rows.back().step == 12);
  REQUIRE(rows.back().skipped_steps == 1);
  REQUIRE(rows.back().rollbacks == 0);
  REQUIRE(std::isfinite(rows.back().val_loss));
  REQUIRE(log.str().find("step 5: non-finite loss, skipped (1 in a row, 1 in all)") != std::string::npos);
  record_row("N1", "non-finite", "a NaN in the embedding for one step (loss NaN)",
             "the step skipped without touching parameters or moments; printed `step 5: non-finite loss, skipped "
             "(1 in a row, 1 in all)`; `skipped_steps` 1 in metrics.h5; the run finished with a finite loss");
}

TEST_CASE("K non-finite steps in a row roll back to the last checkpoint with a lower LR", "[faults][divergence]") {
  RunSetup s("nan_rollback", 12);
  const RunConfig config = config_with(s, R"(, "max_bad_steps": 3, "rollback_lr_factor": 0.25)");
  Engine engine(2);
  std::ostringstream log;
  Trainer trainer(config, engine, log);
  trainer.set_step_hook(NanPlanter{5, false});  // stays NaN until the rollback reloads the model
  trainer.run(s.run_dir("run"));
  const auto rows = MetricsLog(s.run_dir("run/metrics.h5")).read();
  REQUIRE(rows.back().step == 12);
  REQUIRE(rows.back().skipped_steps == 3);
  REQUIRE(rows.back().rollbacks == 1);
  REQUIRE(std::isfinite(rows.back().val_loss));
  // From the rollback on, every LR is a quarter of the uninterrupted run's.
  RunSetup clean("nan_rollback_clean", 12);
  write_file(clean.config, train_config(clean.data, 12, R"(, "max_bad_steps": 3, "rollback_lr_factor": 0.25)"));
  Trainer reference(load_run_config(clean.config), engine, log);
  reference.run(clean.run_dir("run"));
  const auto ref_rows = MetricsLog(clean.run_dir("run/metrics.h5")).read();
  REQUIRE(rows.size() == ref_rows.size());
  for (size_t i = 0; i < rows.size(); ++i) REQUIRE(rows[i].lr == (rows[i].step > 4 ? 0.25 : 1.0) * ref_rows[i].lr);
  const std::string text = log.str();
  const size_t at = text.find("rolled back to ");
  REQUIRE(at != std::string::npos);
  std::string line = without_dir(text.substr(at, text.find('\n', at) - at), s.dir);
  record_row("N2", "non-finite", "NaN from step 5 on, `max_bad_steps` 3, `on_divergence` rollback",
             "3 steps skipped, then `" + line + "`; the run finished; `skipped_steps` 3 and `rollbacks` 1 in "
             "metrics.h5, every later LR exactly 0.25x the schedule's");
}

TEST_CASE("K non-finite steps in a row stop the run with a clear error when so configured",
          "[faults][divergence]") {
  RunSetup s("nan_stop", 12);
  const RunConfig config = config_with(s, R"(, "max_bad_steps": 2, "on_divergence": "stop")");
  Engine engine(2);
  std::ostringstream log;
  Trainer trainer(config, engine, log);
  trainer.set_step_hook(NanPlanter{5, false});
  std::string message;
  try {
    trainer.run(s.run_dir("run"));
  } catch (const UserError& e) {
    message = e.what();
  }
  REQUIRE(message == s.run_dir("run") +
                         ": training diverged: 2 consecutive non-finite steps at step 5; lower train.lr or raise "
                         "train.warmup_steps");
  TrainState state;
  load_model(s.run_dir("run/latest.h5"), &state);
  REQUIRE(state.step == 4);
  record_row("N3", "non-finite", "NaN from step 5 on, `max_bad_steps` 2, `on_divergence` stop",
             "the run stops with `error: " + without_dir(message, s.dir) + "` (exit 2 from the CLI); latest.h5 (step 4) intact");
}
