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

std::string last_line(const std::string& text) { return text.substr(text.rfind('\n') + 1); }

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
  testing::CapturedLog log;
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
  testing::CapturedLog log;
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
  testing::CapturedLog log;
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

TEST_CASE("A checkpoint that diverges again is rolled back to at most max_rollbacks times, falling back to older "
          "checkpoints, then the run stops with a clear error",
          "[faults][divergence]") {
  // lr 10 with weight decay 10 multiplies every decayed weight by -99 per step: within
  // a few steps the gradient overflows, and from the checkpoint before that point it
  // overflows again whatever the LR (the gradient comes before the update).
  TempDir dir("diverge_again");
  const std::string data = testing::make_corpus(dir, 60000), config = dir.file("run.json");
  write_file(config, R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "qkv_tokens": 8, "proj_tokens": 8,
              "ffn_tokens": 32},
    "train": {"steps": 40, "batch_size": 4, "lr": 10, "weight_decay": 10, "warmup_steps": 2, "log_every": 4,
              "eval_every": 8, "eval_batches": 2, "checkpoint_every": 1, "keep_checkpoints": 3,
              "max_bad_steps": 3}})");
  const std::string run = dir.file("run");
  ProcessOptions hang_guard;
  hang_guard.timeout_ms = 120000;  // the defect: rollbacks forever
  const ProcessResult r = run_tokengrow({"train", "--config", config, "--out", run, "--threads", "1"}, hang_guard);
  INFO(r.out << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0));
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.exit_code == 2);
  // Three rollbacks (the default train.max_rollbacks): the first to latest.h5; the
  // second, which would restore that point again, to the ckpt_* before it.
  std::vector<std::string> rollbacks;
  // Warnings (skipped steps, rollbacks) and the error, on stderr.
  for (size_t at = 0; (at = r.err.find("warning: rolled back to ", at)) != std::string::npos; ++at)
    rollbacks.push_back(without_dir(r.err.substr(at + 9, r.err.find('\n', at) - at - 9), dir));
  REQUIRE(rollbacks.size() == 3);
  REQUIRE(rollbacks[0].rfind("rolled back to run/latest.h5 (step ", 0) == 0);
  REQUIRE(rollbacks[1].rfind("rolled back to run/ckpt_", 0) == 0);
  REQUIRE(rollbacks[2].rfind("rolled back to run/", 0) == 0);
  const std::string error = last_line(without_dir(r.err, dir));
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 3 * 4 + 3 + 1);  // 4 x 3 skips, 3 rollbacks, the error
  REQUIRE(error.rfind("error: run: training diverged: 3 consecutive non-finite steps at step ", 0) == 0);
  REQUIRE(error.find("after 3 rollbacks (train.max_rollbacks)") != std::string::npos);
  // The run directory is sound and records the rollbacks and the lowered LR.
  require_every_file_sound(run);
  TrainState state;
  load_model(run + "/latest.h5", &state);
  REQUIRE(state.rollbacks == 3);
  REQUIRE(state.lr_scale == 0.125);
  // Keeping one ckpt_* leaves nothing older to fall back to: the second rollback stops the run.
  const std::string config1 = dir.file("run1.json"), run1 = dir.file("run1");
  std::string text = testing::read_file(config);
  text.replace(text.find("\"keep_checkpoints\": 3"), 21, "\"keep_checkpoints\": 1");
  write_file(config1, text);
  const ProcessResult r1 = run_tokengrow({"train", "--config", config1, "--out", run1, "--threads", "1"}, hang_guard);
  INFO(r1.out << r1.err);
  REQUIRE(r1.exit_code == 2);
  const std::string error1 = last_line(without_dir(r1.err, dir));
  REQUIRE(error1.find(" again after rolling back to run1/latest.h5 (step ") != std::string::npos);
  REQUIRE(error1.find("and no valid checkpoint older than step ") != std::string::npos);
  require_every_file_sound(run1);
  record_row("N4", "non-finite",
             "a run whose checkpoints diverge again (lr 10, weight decay 10, a checkpoint every step, "
             "`max_bad_steps` 3)",
             "3 rollbacks (`max_rollbacks` 3): `" + rollbacks[0] + "`; then, instead of the same point again, `" +
                 rollbacks[1] + "`; then `" + rollbacks[2] + "`; then `" + error + "`, exit 2; latest.h5 sound, "
                 "with `rollbacks` 3 and the LR at 0.125x; keeping 1 checkpoint, the second rollback had nothing older "
                 "to fall back to: `" + error1 + "`");
}
