// Two processes writing one run or experiment directory: the second refuses.
#include <chrono>
#include <thread>

#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
// Waits until `path` exists (the first process is past its lock and writing).
void wait_for(const std::string& path) {
  for (int i = 0; i < 3000 && !fs::exists(path); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(fs::exists(path));
}

void require_refused(const ProcessResult& r, int holder_pid) {
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find("in use by another tokengrow process (pid " + std::to_string(holder_pid) + ")") !=
          std::string::npos);
}
}  // namespace

TEST_CASE("A second process on the same run or experiment directory is refused, a killed holder frees it",
          "[faults][lock]") {
  RunSetup s("lock", 100000);
  const std::string run = s.run_dir("run");
  const int holder = start_tokengrow({"train", "--config", s.config, "--out", run}, s.dir.file("holder.log"));
  wait_for(run + "/latest.h5");

  const ProcessResult resume = run_tokengrow({"train", "--resume", run, "--steps", "1"});
  require_refused(resume, holder);
  require_refused(run_tokengrow({"train", "--config", s.config, "--out", run}), holder);
  kill_and_wait(holder);

  // The kernel dropped the lock with the process: the directory is usable again.
  const ProcessResult after = run_tokengrow({"train", "--resume", run, "--steps", "1"});
  INFO(after.err);
  REQUIRE(after.exit_code == 0);

  // The same for an experiment directory.
  write_file(s.dir.file("e.json"), one_recipe_experiment(s.data, 1, 6400000, 1));
  const std::string exp = s.dir.file("exp");
  const int exp_holder = start_tokengrow({"experiment", s.dir.file("e.json"), "--out", exp}, s.dir.file("exp.log"));
  wait_for(exp + "/r-seed0/stage0/latest.h5");
  const ProcessResult second = run_tokengrow({"experiment", s.dir.file("e.json"), "--out", exp});
  require_refused(second, exp_holder);
  kill_and_wait(exp_holder);
  std::string message = without_dir(resume.err, s.dir);
  const std::string pid = "(pid " + std::to_string(holder) + ")";
  message.replace(message.find(pid), pid.size(), "(pid N)");
  record_row("L1", "two writers", "a second `train` (resume or fresh) or `experiment` on a directory in use",
             "refused before touching anything: one line `" + message +
                 "`, exit 2 (N: the holder's pid); after kill -9 of the holder the kernel freed the lock and resume "
                 "ran");
}

TEST_CASE("train on a finished stage of a running experiment is refused", "[faults][lock]") {
  RunSetup s("lock_experiment", 10);
  // One short recipe (20 steps), then a long frontier run (1000x its FLOPs) that is
  // still training while the test tries `train` on the recipe's finished stage.
  write_file(s.dir.file("e.json"), one_recipe_experiment(s.data, 1000, 1280, 1000));
  const std::string exp = s.dir.file("exp"), stage = exp + "/r-seed0/stage0";
  const int holder = start_tokengrow({"experiment", s.dir.file("e.json"), "--out", exp}, s.dir.file("exp.log"));
  wait_for(exp + "/r-seed0/done.json");
  wait_for(exp + "/frontier-1000x-seed0/metrics.journal");  // the run is training (metrics.h5 comes at its end)
  const std::string metrics = testing::read_file(stage + "/metrics.h5");

  const ProcessResult r = run_tokengrow({"train", "--resume", stage, "--steps", "200"});
  INFO("stderr: " << r.err);
  REQUIRE(r.exit_code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find("is inside the experiment directory " + fs::weakly_canonical(exp).string()) != std::string::npos);
  REQUIRE(testing::read_file(stage + "/metrics.h5") == metrics);
  REQUIRE_FALSE(fs::exists(exp + "/frontier-1000x-seed0/done.json"));  // the experiment was still running
  kill_and_wait(holder);
  std::string message = without_dir(r.err, s.dir);
  const std::string canonical_prefix = fs::weakly_canonical(s.dir.path()).string() + "/";
  for (size_t pos; (pos = message.find(canonical_prefix)) != std::string::npos;)
    message.replace(pos, canonical_prefix.size(), "");
  record_row("L2", "two writers",
             "`train --resume E/r-seed0/stage0 --steps 200` on a finished stage while `experiment` trains another run",
             "refused before touching anything: one line `" + message + "`, exit 2; the stage's metrics.h5 unchanged");
}

TEST_CASE("Two grows with the same --out at once: exactly one publishes its own model, the other is refused",
          "[faults][lock]") {
  RunSetup s("grow_race", 2);
  const std::string run = s.run_dir("run");
  const ProcessResult trained = run_tokengrow({"train", "--config", s.config, "--out", run});
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  auto grow = [&](const std::string& out, const std::string& seed) {
    return std::vector<std::string>{"grow", "--from", run + "/latest.h5", "--out", out, "--factor", "2", "--seed", seed};
  };
  std::string refusal;
  // Started together, both pass the up-front check for an existing --out; different
  // seeds give different new rows, so the published file tells whose model it is.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string out = s.dir.file("g" + std::to_string(attempt) + ".h5");
    const std::string log_a = s.dir.file("a" + std::to_string(attempt) + ".log");
    const std::string log_b = s.dir.file("b" + std::to_string(attempt) + ".log");
    const int a = start_tokengrow(grow(out, "1"), log_a), b = start_tokengrow(grow(out, "2"), log_b);
    const int code_a = wait_exit_code(a), code_b = wait_exit_code(b);
    const std::string err_a = testing::read_file(log_a + ".err"), err_b = testing::read_file(log_b + ".err");
    INFO("attempt " << attempt << ": exit " << code_a << " / " << code_b << "; " << err_a << " | " << err_b);
    REQUIRE(((code_a == 0 && code_b == 2) || (code_a == 2 && code_b == 0)));
    const std::string& loser = code_a == 2 ? err_a : err_b;
    REQUIRE(std::count(loser.begin(), loser.end(), '\n') == 1);
    REQUIRE(loser.find("already exists") != std::string::npos);
    refusal = without_dir(loser, s.dir);
    const std::string reference = s.dir.file("ref" + std::to_string(attempt) + ".h5");
    REQUIRE(run_tokengrow(grow(reference, code_a == 0 ? "1" : "2")).exit_code == 0);
    require_same_checkpoint(out, reference);
    REQUIRE(temp_files_of(out).empty());
  }
  // Which check refused it (up front, or at publication) depends on timing; the row
  // shows what both say.
  refusal = refusal.substr(0, refusal.find("already exists") + 14);
  refusal.replace(7, refusal.find(".h5") - 7, "gN");
  record_row("L3", "two writers", "two `grow` processes started at once with the same `--out` (3 times; both used to exit 0, one publishing the other's model)",
             "exactly one exits 0 and the file holds its model, bit for bit; the other exits 2 with one line `" +
                 refusal + " ...` and leaves no temporary file");
}

TEST_CASE("grow --out into a run directory that a running train holds is refused, naming the holder",
          "[faults][lock]") {
  RunSetup s("grow_locked", 100000);
  const std::string from = s.run_dir("from"), run = s.run_dir("run");
  const ProcessResult trained = run_tokengrow({"train", "--config", s.config, "--out", from, "--steps", "2"});
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const std::vector<std::string> grow = {"grow", "--from", from + "/latest.h5", "--out", run + "/grown.h5", "--factor", "2"};
  const int holder = start_tokengrow({"train", "--config", s.config, "--out", run}, s.dir.file("holder.log"));
  wait_for(run + "/latest.h5");
  const ProcessResult r = run_tokengrow(grow);
  require_refused(r, holder);
  REQUIRE_FALSE(fs::exists(run + "/grown.h5"));
  REQUIRE(temp_files_of(run + "/grown.h5").empty());
  kill_and_wait(holder);
  const ProcessResult after = run_tokengrow(grow);  // the directory is free again
  INFO(after.err);
  REQUIRE(after.exit_code == 0);
  REQUIRE(seal_problem(run + "/grown.h5", "checkpoint").empty());
  std::string message = without_dir(r.err, s.dir);
  const std::string pid = "(pid " + std::to_string(holder) + ")";
  message.replace(message.find(pid), pid.size(), "(pid N)");
  record_row("L4", "two writers",
             "`grow --out run/grown.h5` while a `train` holds run (grow wrote into it, exit 0)",
             "refused before writing: one line `" + message + "`, exit 2, no file or temporary file left; once the "
             "holder was killed the same grow wrote run/grown.h5");
}
