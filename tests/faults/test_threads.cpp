// Thread counts through the real binary: the OpenMP default a run falls back to is
// bounded like --threads and train.threads, and an experiment runs on its config's
// train.threads unless --threads is given.
#include <thread>

#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
// The thread counts of every "model: ..., N threads" line of a run's output.
std::vector<int64_t> threads_in(const std::string& out) {
  std::vector<int64_t> counts;
  for (size_t at = 0; (at = out.find("model: ", at)) != std::string::npos; ++at) {
    const size_t end = out.find(" threads", at);
    if (end == std::string::npos) break;
    const size_t start = out.rfind(' ', end - 1) + 1;
    counts.push_back(std::stoll(out.substr(start, end - start)));
  }
  return counts;
}

// "warning: ..." as the only line of stderr, containing `expected`.
void require_one_warning(const ProcessResult& r, const std::string& expected) {
  INFO("exit " << r.exit_code << ", signal " << r.signal << ", stderr: " << r.err);
  REQUIRE(r.signal == 0);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.rfind("warning: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find(expected) != std::string::npos);
}
}  // namespace

TEST_CASE("OMP_NUM_THREADS=99999: the OpenMP default bounded to the cores with one warning, no crash",
          "[faults][threads]") {
  RunSetup s("omp_threads", 2);
  const std::string run = s.run_dir("run");
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", run}).exit_code == 0);
  ProcessOptions huge;
  huge.env = {{"OMP_NUM_THREADS", "99999"}};
  const ProcessResult eval = run_tokengrow({"eval", "--ckpt", run + "/latest.h5", "--data", s.data}, huge);
  require_one_warning(eval, "OMP_NUM_THREADS=99999 is above the 1024 threads tokengrow runs; using this machine's ");
  REQUIRE(eval.out.find("loss ") != std::string::npos);
  // train with threads 0 (the config's default) falls back to the bounded default.
  const ProcessResult train = run_tokengrow({"train", "--resume", run, "--steps", "3"}, huge);
  require_one_warning(train, "OMP_NUM_THREADS=99999");
  const std::vector<int64_t> counts = threads_in(train.out);
  REQUIRE(counts.size() == 1);
  REQUIRE(counts[0] >= 1);
  REQUIRE(counts[0] <= std::max<int64_t>(1, std::thread::hardware_concurrency()));
  record_row("R1", "resources", "`OMP_NUM_THREADS=99999` with `eval`, and with `train` whose `threads` is 0 "
             "(crashed: SIGSEGV in libgomp)",
             "exit 0 from both, the OpenMP default bounded to this machine's N cores with one line: `" +
                 with_placeholder(without_dir(eval.err, s.dir), "this machine's ", " cores", "N") +
                 "`; `train` ran on those N threads");
}

TEST_CASE("experiment runs on its config's train.threads, and --threads overrides it only when given",
          "[faults][threads]") {
  TempDir dir("experiment_threads");
  const std::string data = testing::make_corpus(dir, 60000);
  auto experiment_config = [&](const std::string& stage_train) {
    return R"({"data": ")" + data + R"(",
      "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
      "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "log_every": 4, "eval_every": 4, "eval_batches": 2,
                "threads": 1},
      "seeds": [0],
      "recipes": [{"name": "ref", "stages": [{"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 640)" +
           stage_train + R"(}]}],
      "baselines": {"frontier_budgets": [1], "stage_sizes": false, "transformer": false}})";
  };
  write_file(dir.file("e.json"), experiment_config(""));
  ProcessOptions three;  // an OpenMP default other than the config's 1 thread, on any machine
  three.env = {{"OMP_NUM_THREADS", "3"}};
  const ProcessResult own = run_tokengrow({"experiment", dir.file("e.json"), "--out", dir.file("own")}, three);
  INFO(own.err);
  REQUIRE(own.exit_code == 0);
  REQUIRE(threads_in(own.out) == std::vector<int64_t>{1, 1});  // ref and frontier-1x
  const ProcessResult flag =
      run_tokengrow({"experiment", dir.file("e.json"), "--out", dir.file("flag"), "--threads", "2"}, three);
  INFO(flag.err);
  REQUIRE(flag.exit_code == 0);
  REQUIRE(threads_in(flag.out) == std::vector<int64_t>{2, 2});
  // A stage cannot run on threads of its own: every stage shares the experiment's engine.
  write_file(dir.file("stage.json"), experiment_config(R"(, "train": {"threads": 2})"));
  const ProcessResult stage = run_tokengrow({"experiment", dir.file("stage.json"), "--out", dir.file("stage")});
  INFO(stage.err);
  REQUIRE(stage.exit_code == 2);
  REQUIRE(stage.err.find("recipes[0].stages[0].train: \"threads\" is the experiment's") != std::string::npos);
  REQUIRE_FALSE(fs::exists(dir.file("stage")));
  record_row("R2", "resources", "`experiment` of a config with `train.threads` 1 under `OMP_NUM_THREADS=3`, without "
             "and with `--threads 2` (ran on every core: --threads defaulted to 0 and won), and a stage setting its "
             "own `threads`",
             "every stage ran on 1 thread, and on 2 with `--threads 2`; the stage's own `threads` refused, exit 2: `" +
                 without_dir(stage.err, dir) + "`");
}
