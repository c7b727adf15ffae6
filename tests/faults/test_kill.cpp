// kill -9 at any moment of train, grow and experiment: real processes killed at
// random moments and at each phase of a file write, then re-run the way a user
// would; the end state must equal an uninterrupted run's bit for bit.
#include <chrono>

#include "core/rng.h"
#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {

// The write phases a crash can hit (train/checkpoint.cpp, core/durable_file.cpp,
// core/record_journal.cpp), each with the words the reliability doc uses for it.
struct WritePhase {
  const char* point;
  const char* words;
};
const WritePhase kPhases[] = {
    {"checkpoint.model_written", "in the middle of making a checkpoint (model serialised, optimizer state not yet)"},
    {"write.half_written", "half-way through writing a file (a checkpoint, or metrics.h5) to disk"},
    {"publish.before_rename", "after the new file is fsynced, before the rename that publishes it"},
    {"publish.after_rename", "after the rename, before the directory fsync"},
    {"journal.half_appended", "half-way through appending a row to the metrics journal"},
};

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

ProcessOptions crash_at(const std::string& point, int nth) {
  ProcessOptions o;
  o.env = {{"TOKENGROW_CRASH_AT", point + ":" + std::to_string(nth)}};
  return o;
}

// Runs the user's command until it exits 0 (it must never fail otherwise).
void finish(const std::vector<std::string>& command) {
  const ProcessResult r = run_tokengrow(command);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("train killed with SIGKILL at random moments resumes to the uninterrupted run's state bit for bit",
          "[faults][kill]") {
  RunSetup s("kill_random", 60);
  const std::string ref = s.run_dir("ref"), run = s.run_dir("run");
  const auto t0 = std::chrono::steady_clock::now();
  finish(train_or_resume(s, ref));
  const double ref_ms = elapsed_ms(t0);

  // Kill moments drawn from [0, T/12], T the whole run's time: twelve kills use up
  // half of T on average, so every attempt is killed (at start-up, mid-step or
  // mid-write) before the run can finish.
  Rng rng(20261123);
  const int kKills = 12;
  for (int kill = 0; kill < kKills; ++kill) {
    ProcessOptions o;
    o.kill_after_ms = static_cast<int64_t>(rng.uniform() * ref_ms / 12);
    const ProcessResult r = run_tokengrow(train_or_resume(s, run), o);
    INFO("attempt " << kill << ", killed after " << o.kill_after_ms << " ms: " << r.err);
    REQUIRE(r.killed_by_us());
    require_every_file_sound(run);
  }
  finish(train_or_resume(s, run));
  require_same_checkpoint(ref + "/latest.h5", run + "/latest.h5");
  require_same_metrics(ref + "/metrics.h5", run + "/metrics.h5");
  record_row("K1", "kill -9", "`train` killed with SIGKILL 12 times at random moments, re-run after each",
             "after every kill each checkpoint and log in the run directory verified; re-running the command "
             "(resume, or start again before the first checkpoint) ended with the uninterrupted run's model, "
             "Adam moments, data position and metrics, bit for bit");
}

TEST_CASE("train killed at every phase of a checkpoint or log write resumes bit for bit", "[faults][kill]") {
  RunSetup s("kill_phases", 24);
  // A metrics row every step, so that every attempt appends enough rows to be killed at the 8th.
  std::string config = train_config(s.data, 24);
  config.replace(config.find("\"log_every\": 4"), 14, "\"log_every\": 1");
  write_file(s.config, config);
  const std::string ref = s.run_dir("ref");
  finish(train_or_resume(s, ref));
  int row = 2;
  for (const WritePhase& phase : kPhases) {
    const std::string run = s.run_dir(std::string("run_") + phase.point);
    // The 1st, 2nd, 3rd, 5th and 8th time the phase is passed: checkpoints
    // (ckpt_<step>.h5, latest.h5), metrics.h5 and metrics rows alike.
    for (int nth : {1, 2, 3, 5, 8}) {
      const ProcessResult r = run_tokengrow(train_or_resume(s, run), crash_at(phase.point, nth));
      INFO(phase.point << ":" << nth << " " << r.err);
      REQUIRE(r.killed_by_us());
      require_every_file_sound(run);
    }
    finish(train_or_resume(s, run));
    require_same_checkpoint(ref + "/latest.h5", run + "/latest.h5");
    require_same_metrics(ref + "/metrics.h5", run + "/metrics.h5");
    record_row("K" + std::to_string(row++), "kill -9",
               std::string("`train` killed ") + phase.words + " (5 kills, at the 1st, 2nd, 3rd, 5th and 8th write)",
               "no damaged file under a final name at any kill; the re-run ended bit for bit equal to the "
               "uninterrupted run");
  }
}

TEST_CASE("grow killed at random moments and at each write phase leaves no damaged file", "[faults][kill]") {
  RunSetup s("kill_grow", 6);
  finish(train_or_resume(s, s.run_dir("run")));
  const std::string from = s.run_dir("run/latest.h5");
  auto grow = [&](const std::string& out) {
    return std::vector<std::string>{"grow", "--from", from, "--out", out, "--factor", "2", "--key-init", "zero"};
  };
  const auto t0 = std::chrono::steady_clock::now();
  finish(grow(s.dir.file("ref.h5")));
  const double grow_ms = elapsed_ms(t0);

  Rng rng(7);
  int attempt = 0;
  auto check_then_finish = [&](const ProcessResult& r, const std::string& out) {
    INFO(r.err);
    REQUIRE((r.exit_code == 0 || r.killed_by_us()));
    if (fs::exists(out)) REQUIRE(seal_problem(out, "checkpoint").empty());
    // The user re-runs grow; a complete output from before the kill is kept.
    if (!fs::exists(out)) finish(grow(out));
    require_same_checkpoint(s.dir.file("ref.h5"), out, /*with_optimizer=*/false);
  };
  for (int i = 0; i < 10; ++i) {
    const std::string out = s.dir.file("g" + std::to_string(attempt++) + ".h5");
    ProcessOptions o;
    o.kill_after_ms = static_cast<int64_t>(rng.uniform() * grow_ms);
    check_then_finish(run_tokengrow(grow(out), o), out);
  }
  for (const char* point : {"write.half_written", "publish.before_rename", "publish.after_rename"}) {
    const std::string out = s.dir.file("g" + std::to_string(attempt++) + ".h5");
    const ProcessResult r = run_tokengrow(grow(out), crash_at(point, 1));
    REQUIRE(r.killed_by_us());
    check_then_finish(r, out);
  }
  record_row("K7", "kill -9",
             "`grow` killed with SIGKILL at 10 random moments and at each write phase (half-way through the "
             "write, before the rename, after the rename)",
             "the output was either absent or complete and verified; re-running grow gave the uninterrupted "
             "grown model bit for bit");
}

TEST_CASE("experiment killed at random moments and at write phases ends with the straight run's results",
          "[faults][kill]") {
  TempDir dir("kill_experiment");
  const std::string data = testing::make_corpus(dir, 60000);
  write_file(dir.file("e.json"), R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
    "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "log_every": 4, "eval_every": 4, "eval_batches": 2,
              "checkpoint_every": 1, "keep_checkpoints": 1},
    "seeds": [0],
    "recipes": [{"name": "ref", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560,
         "growth": {"key_init": "zero", "tau": "anneal", "anneal_steps": 6, "optimizer": "keep"}}]}],
    "baselines": {"frontier_budgets": [0.5, 1], "stage_sizes": false, "transformer": false}})");
  auto experiment = [&](const std::string& out) {
    return std::vector<std::string>{"experiment", dir.file("e.json"), "--out", out, "--threads", "2"};
  };
  const auto t0 = std::chrono::steady_clock::now();
  finish(experiment(dir.file("straight")));
  const double straight_ms = elapsed_ms(t0);
  const std::string straight = testing::summary_without_wall_time(dir.file("straight"));
  REQUIRE(straight.find("ref-seed0,recipe") != std::string::npos);

  const std::string out = dir.file("killed");
  Rng rng(99);
  for (int kill = 0; kill < 12; ++kill) {
    ProcessOptions o;
    o.kill_after_ms = static_cast<int64_t>(rng.uniform() * straight_ms / 16);
    const ProcessResult r = run_tokengrow(experiment(out), o);
    INFO("kill " << kill << ": " << r.err);
    REQUIRE(r.killed_by_us());
  }
  for (const WritePhase& phase : kPhases) {
    const ProcessResult r = run_tokengrow(experiment(out), crash_at(phase.point, 3));
    INFO(phase.point << ": " << r.err);
    REQUIRE((r.killed_by_us() || r.exit_code == 0));
  }
  finish(experiment(out));
  REQUIRE(testing::summary_without_wall_time(out) == straight);
  REQUIRE(seal_problem(out + "/experiment.h5", "experiment").empty());
  record_row("K8", "kill -9",
             "`experiment` killed with SIGKILL at 12 random moments, then once at each write phase, re-run after "
             "each",
             "re-running the same command continued where it stopped; summary.csv (wall time aside) equal to "
             "the experiment run straight through");
}

TEST_CASE("The release binary has no crash-injection hook: TOKENGROW_CRASH_AT is ignored", "[faults][kill]") {
  TempDir dir("release_crash_hook");
  write_file(dir.file("t.txt"), testing::make_text(1, 20000));
  auto prepare = [&](const std::string& binary, const std::string& out) {
    return run_process({binary, "prepare", "--text", dir.file("t.txt"), "--out", dir.file(out)},
                       crash_at("write.half_written", 1));
  };
  const ProcessResult release = prepare(TOKENGROW_RELEASE_BINARY, "release.h5");
  INFO(release.err);
  REQUIRE(release.exit_code == 0);
  REQUIRE(seal_problem(dir.file("release.h5"), "corpus").empty());
  REQUIRE(prepare(TOKENGROW_BINARY, "test.h5").killed_by_us());  // the fault-injection build
  REQUIRE_FALSE(fs::exists(dir.file("test.h5")));
}
