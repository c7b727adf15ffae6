// The experiment runner: interrupted and re-run gives the same results as one
// run straight; config errors name the key; stages trained outside the plan and
// damaged done markers are refused.
#include <catch2/catch.hpp>

#include <cctype>

#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "core/error.h"
#include "experiment/experiment_dir.h"
#include "experiment/experiment_runner.h"
#include "train/metrics_log.h"
#include "cli_run.h"
#include "test_data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {

std::string experiment_json(const std::string& data, const std::string& extra_stage = "") {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
    "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "log_every": 5, "eval_every": 5, "eval_batches": 2,
              "keep_checkpoints": 1},
    "seeds": [0, 1],
    "recipes": [
      {"name": "ref", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560)" + extra_stage + R"(}]},
      {"name": "anneal", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560,
         "growth": {"key_init": "zero", "tau": "anneal", "anneal_steps": 10, "optimizer": "keep"}}]}],
    "baselines": {"frontier_budgets": [0.5, 1, 1.5]}})";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// One seed, two recipes sharing their first stage (20 steps), one frontier run.
std::string tiny_experiment_json(const std::string& data) {
  return replaced(replaced(experiment_json(data), "\"seeds\": [0, 1]", "\"seeds\": [0]"),
                  "\"frontier_budgets\": [0.5, 1, 1.5]",
                  "\"frontier_budgets\": [1], \"stage_sizes\": false, \"transformer\": false");
}



// Trains a finished stage directory `extra` steps further, as `tokengrow train
// --resume DIR --steps N` did before it refused experiment directories.
void train_further(const std::string& stage_dir, int64_t extra, Engine& engine) {
  const std::string latest = stage_dir + "/latest.h5";
  RunConfig config = parse_run_config(read_checkpoint_config(latest), latest);
  config.train.steps += extra;
  testing::CapturedLog log;
  Trainer(config, engine, log).run(stage_dir, latest);
}

}  // namespace

TEST_CASE("A stage's step and FLOPs must lie on its run's plan", "[experiment][errors]") {
  PlannedRun run;
  run.name = "r-seed0";
  run.stages.resize(2);
  run.stages[0].train.steps = 10;
  run.stages[1].train.steps = 20;
  run.stage_step_flops = {100, 400};  // stage 0 ends at step 10, 1000 FLOPs; stage 1 at step 30, 9000
  REQUIRE(run.end_step(-1) == 0);
  REQUIRE(run.end_step(1) == 30);
  REQUIRE(run.end_flops(1) == 9000);
  auto check = [&](size_t k, int64_t step, double flops, bool finished) {
    return error_of([&] { check_stage_progress(run, "out/r-seed0", k, {step, flops, "f.h5"}, finished); });
  };
  REQUIRE(check(0, 10, 1000, true) == "no error");
  REQUIRE(check(0, 4, 400, false) == "no error");
  REQUIRE(check(1, 10, 1000, false) == "no error");  // a stage's first checkpoint
  REQUIRE(check(1, 25, 7000, false) == "no error");
  REQUIRE(check(1, 30, 9000 * (1 + 1e-12), true) == "no error");  // summed, not multiplied

  const std::string beyond = check(0, 15, 1500, true);
  INFO(beyond);
  REQUIRE(beyond.find("r-seed0: stage 0 (f.h5) is at step 15 with 1500 FLOPs") == 0);
  REQUIRE(beyond.find("its plan (out/r-seed0/plan.json) ends stage 0 at step 10 with 1000 FLOPs") != std::string::npos);
  REQUIRE(check(0, 15, 1500, false).find("ends stage 0 at step 10") != std::string::npos);
  REQUIRE(check(0, 9, 900, true).find("ends stage 0 at step 10") != std::string::npos);  // not finished
  REQUIRE(check(1, 5, 500, false).find("starting at step 10") != std::string::npos);     // before the stage
  const std::string flops = check(1, 25, 7100, false);
  INFO(flops);
  REQUIRE(flops.find("is at step 25 with 7100 FLOPs") != std::string::npos);
  REQUIRE(flops.find("has 7000 FLOPs at step 25 of stage 1") != std::string::npos);
}

TEST_CASE("Experiment directories are found from any directory below them, and only those", "[experiment]") {
  TempDir dir("experiment_dir");
  const fs::path root = fs::weakly_canonical(dir.path());
  auto touch = [](const fs::path& path) {
    fs::create_directories(path.parent_path());
    write_file(path.string(), "x");
  };
  REQUIRE(enclosing_experiment_dir((root / "a/b").string()).empty());
  fs::create_directories(root / "e");
  mark_experiment_dir((root / "e").string(), "e.json");
  REQUIRE(enclosing_experiment_dir((root / "e").string()) == (root / "e").string());
  REQUIRE(enclosing_experiment_dir((root / "e/run/stage0/").string()) == (root / "e").string());
  REQUIRE(enclosing_experiment_dir((root / "e/run/../other").string()) == (root / "e").string());
  REQUIRE(enclosing_experiment_dir((root / "ee/run").string()).empty());
  // Before the marker: the runner's lock beside experiment.h5, or above a run's plan.json.
  touch(root / "old/.lock");
  touch(root / "old/r/plan.json");
  REQUIRE(enclosing_experiment_dir((root / "old/r/stage1").string()) == (root / "old").string());
  touch(root / "old2/.lock");
  touch(root / "old2/experiment.h5");
  REQUIRE(enclosing_experiment_dir((root / "old2/new").string()) == (root / "old2").string());
  // Files of the same names elsewhere do not make an experiment.
  touch(root / "notes/plan.json");
  touch(root / "results/experiment.h5");
  REQUIRE(enclosing_experiment_dir((root / "notes/run").string()).empty());
  REQUIRE(enclosing_experiment_dir((root / "results/run").string()).empty());
}

TEST_CASE("train is refused inside an experiment, and a stage trained outside is caught before growth and report",
          "[experiment][errors]") {
  TempDir dir("experiment_outside");
  const std::string corpus = make_corpus(dir, 100000);
  write_file(dir.file("e.json"), tiny_experiment_json(corpus));
  const std::string out = dir.file("out"), stage0 = out + "/ref-seed0/stage0";
  Engine engine(2);
  testing::CapturedLog log;
  {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), out, engine, log);
    REQUIRE(runner.plan().runs.size() == 3);
    REQUIRE(runner.plan().runs[0].stages[0].train.steps == 20);
    REQUIRE(runner.run());
  }
  const std::string metrics_before = read_file(stage0 + "/metrics.h5");

  // tokengrow train on a stage, a run or a new directory inside the experiment: refused.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--resume", stage0, "--steps", "25"},
        std::vector<std::string>{"train", "--resume", stage0 + "/latest.h5", "--out", out + "/ref-seed0/mine"},
        std::vector<std::string>{"train", "--resume", out + "/frontier-1x-seed0"}}) {
    const CliResult r = cli(args);
    INFO(args[2] << ": " << r.err);
    REQUIRE(r.code == 2);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.err.find("is inside the experiment directory " + fs::weakly_canonical(out).string()) != std::string::npos);
  }
  REQUIRE(read_file(stage0 + "/metrics.h5") == metrics_before);
  REQUIRE_FALSE(fs::exists(out + "/ref-seed0/mine"));
  // A copy outside the experiment trains.
  REQUIRE(cli({"train", "--resume", stage0 + "/latest.h5", "--out", dir.file("copy"), "--steps", "2"}).code == 0);
  // Directories of experiments from before the marker: recognised by plan.json.
  fs::remove(out + "/.experiment");
  fs::remove(out + "/experiment.h5");
  REQUIRE(cli({"train", "--resume", stage0, "--steps", "25"}).code == 2);

  // Stage 0 trained 5 steps further all the same (an older binary, a copied file):
  // the recipe that has not grown from it yet refuses to, naming run, stage and steps.
  train_further(stage0, 5, engine);
  fs::remove_all(out + "/anneal-seed0");
  const std::string growth_error = error_of([&] {
    ExperimentRunner(load_experiment_config(dir.file("e.json")), out, engine, log).run();
  });
  INFO(growth_error);
  REQUIRE(growth_error.find("anneal-seed0: stage 0 (" + stage0 + "/latest.h5) is at step 25") == 0);
  REQUIRE(growth_error.find("ends stage 0 at step 20") != std::string::npos);
  REQUIRE_FALSE(fs::exists(out + "/anneal-seed0/grown_1.h5"));

  // The finished recipe that grew from it at step 20 is not reported with the new rows.
  std::string ref_only = read_file(dir.file("e.json"));
  const size_t anneal = ref_only.find(",\n      {\"name\": \"anneal\"");
  ref_only.erase(anneal, ref_only.find("],\n    \"baselines\"") - anneal);
  write_file(dir.file("ref.json"), ref_only);
  const std::string report_error = error_of([&] {
    ExperimentRunner(load_experiment_config(dir.file("ref.json")), out, engine, log).run();
  });
  INFO(report_error);
  REQUIRE(report_error.find("ref-seed0: stage 0 (" + stage0 + "/metrics.h5) is at step 25") == 0);
  REQUIRE(report_error.find("ends stage 0 at step 20") != std::string::npos);
}

TEST_CASE("A damaged or foreign done.json is an error naming the file, not a finished run", "[experiment][errors]") {
  TempDir dir("experiment_done");
  write_file(dir.file("e.json"), tiny_experiment_json(make_corpus(dir, 100000)));
  const std::string out = dir.file("out"), done = out + "/ref-seed0/done.json";
  Engine engine(2);
  testing::CapturedLog log;
  auto run = [&] { return ExperimentRunner(load_experiment_config(dir.file("e.json")), out, engine, log).run(); };
  REQUIRE(run());
  const std::string marker = read_file(done), summary = summary_without_wall_time(out);

  write_file(done, marker.substr(0, marker.size() / 2));  // cut short
  std::string e = error_of(run);
  INFO(e);
  REQUIRE(e.find(done + ": damaged done marker") == 0);
  REQUIRE(e.find("bytes that are not JSON") != std::string::npos);
  write_file(done, read_file(out + "/frontier-1x-seed0/done.json"));  // another run's
  e = error_of(run);
  REQUIRE(e.find(done + ": damaged done marker") == 0);
  REQUIRE(e.find("\"name\":\"frontier-1x-seed0\"") != std::string::npos);

  // Deleted, as the message says: the run is checked against its plan and marked again.
  fs::remove(done);
  REQUIRE(run());
  REQUIRE(read_file(done) == marker);
  REQUIRE(summary_without_wall_time(out) == summary);
}

TEST_CASE("An experiment stopped many times and re-run ends with the same summary as one run straight",
          "[experiment][resume]") {
  TempDir dir("experiment");
  const std::string corpus = make_corpus(dir, 100000);
  write_file(dir.file("e.json"), experiment_json(corpus));
  const ExperimentConfig config = load_experiment_config(dir.file("e.json"));
  Engine engine(2);
  testing::CapturedLog log;
  {
    ExperimentRunner runner(config, dir.file("straight"), engine, log);
    REQUIRE(runner.plan().runs.size() == 2 * (2 + 3 + 1 + 1));  // seeds x (recipes + frontier + stage size + transformer)
    REQUIRE(runner.run());
  }
  int stops = 0;
  for (bool finished = false; !finished; ++stops) {
    ExperimentRunner runner(config, dir.file("stopped"), engine, log);
    runner.set_step_budget(13);  // stops mid-stage, between checkpoints, many times
    finished = runner.run();
    REQUIRE(stops < 200);
  }
  INFO("stopped " << stops - 1 << " times");
  REQUIRE(stops > 10);
  const std::string straight = summary_without_wall_time(dir.file("straight"));
  REQUIRE(straight.find("ref-seed1,recipe") != std::string::npos);
  REQUIRE(summary_without_wall_time(dir.file("stopped")) == straight);
  // Both recipes share one trained first stage per seed.
  REQUIRE(fs::exists(dir.file("straight/ref-seed0/stage0/latest.h5")));
  REQUIRE_FALSE(fs::exists(dir.file("straight/anneal-seed0/stage0")));
  REQUIRE(fs::exists(dir.file("straight/experiment.h5")));
  REQUIRE(fs::exists(dir.file("straight/summary.md")));
}

TEST_CASE("Re-running an experiment whose config changed is refused, naming the run and the key",
          "[experiment][errors]") {
  TempDir dir("experiment_changed");
  const std::string corpus = make_corpus(dir, 100000);
  const std::string text = experiment_json(corpus);
  write_file(dir.file("e.json"), text);
  Engine engine(2);
  testing::CapturedLog log;
  {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    runner.set_step_budget(3);  // stops inside the first run
    REQUIRE_FALSE(runner.run());
  }
  REQUIRE(fs::exists(dir.file("out/ref-seed0/plan.json")));

  std::string changed = text;
  changed.replace(changed.find("\"lr\": 3e-3"), 10, "\"lr\": 2e-3");
  write_file(dir.file("e.json"), changed);
  const auto metrics_before = read_file(dir.file("out/ref-seed0/stage0/metrics.h5"));
  try {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    runner.run();
    FAIL("the changed config was accepted");
  } catch (const UserError& e) {
    const std::string message = e.what();
    INFO(message);
    REQUIRE(message.find("ref-seed0") != std::string::npos);
    REQUIRE(message.find("e.json") != std::string::npos);
    REQUIRE(message.find("stages[0].train.lr: 0.003 before, 0.002 now") != std::string::npos);
  }
  REQUIRE(read_file(dir.file("out/ref-seed0/stage0/metrics.h5")) == metrics_before);  // nothing trained

  // The original config continues as before, also on a plan written by an older binary
  // that lacked a key of today's run config (its default is what that run trained with);
  // a stage missing from the plan is still a difference.
  write_file(dir.file("e.json"), text);
  const std::string plan_file = dir.file("out/ref-seed0/plan.json");
  nlohmann::json plan = nlohmann::json::parse(read_file(plan_file));
  REQUIRE(plan[0]["train"].erase("max_rollbacks") == 1);
  write_file(plan_file, plan.dump(2));
  {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    runner.set_step_budget(3);
    REQUIRE_FALSE(runner.run());
  }
  // The same missing key with a value other than its default is a difference.
  write_file(dir.file("e.json"), replaced(text, "\"keep_checkpoints\": 1", "\"keep_checkpoints\": 1, \"max_rollbacks\": 5"));
  {
    ExperimentRunner changed_runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    const std::string e = error_of([&] { changed_runner.run(); });
    INFO(e);
    REQUIRE(e.find("stages[0].train.max_rollbacks: absent before, 5 now") != std::string::npos);
  }
  write_file(dir.file("e.json"), text);
  plan.erase(1);
  write_file(plan_file, plan.dump(2));
  ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  const std::string e = error_of([&] { runner.run(); });
  INFO(e);
  REQUIRE(e.find("stages[1]: absent before") != std::string::npos);
}

TEST_CASE("Experiment config errors name the key", "[experiment][errors]") {
  TempDir dir("experiment_bad");
  auto error_of = [&](const std::string& text) {
    write_file(dir.file("bad.json"), text);
    return tg::testing::error_of([&] { load_experiment_config(dir.file("bad.json")); });
  };
  const std::string data = dir.file("d.h5");
  std::string e = error_of(experiment_json(data, R"(, "colour": "red")"));
  REQUIRE(e.find("recipes[0].stages[1].colour") != std::string::npos);
  REQUIRE(e.find("unknown key") != std::string::npos);
  std::string shrink = experiment_json(data);
  shrink.replace(shrink.find("\"ffn_tokens\": 16"), 16, "\"ffn_tokens\": 4");
  e = error_of(shrink);
  REQUIRE(e.find("recipes[0].stages[1]): ffn_tokens: growing to fewer tokens (8 -> 4)") != std::string::npos);
  e = error_of(experiment_json(data, R"(, "growth": {"tau": "anneal"})"));
  REQUIRE(e.find("anneal_steps") != std::string::npos);
  std::string no_seeds = experiment_json(data);
  no_seeds.replace(no_seeds.find("\"seeds\": [0, 1],"), 16, "");
  REQUIRE(error_of(no_seeds).find("seeds") != std::string::npos);
  std::string bad_heads = experiment_json(data);
  bad_heads.replace(bad_heads.find("\"n_heads\": 2"), 12, "\"n_heads\": 5");
  REQUIRE(error_of(bad_heads).find("not divisible") != std::string::npos);
  // A repeated seed or budget would train identical runs and show a spread of 0.
  e = error_of(replaced(experiment_json(data), "\"seeds\": [0, 1]", "\"seeds\": [0, 1, 0]"));
  INFO(e);
  REQUIRE(e.find("bad.json: seeds: 0 is listed twice") != std::string::npos);
  e = error_of(replaced(experiment_json(data), "[0.5, 1, 1.5]", "[0.5, 1, 1.0]"));
  INFO(e);
  REQUIRE(e.find("bad.json: baselines.frontier_budgets: 1.0 is listed twice (run frontier-1x)") != std::string::npos);
}

TEST_CASE("A Transformer recipe grows in width, its stage inheriting the rest, and the growth is measured exact",
          "[experiment][width]") {
  TempDir dir("experiment_width");
  const std::string corpus = make_corpus(dir, 100000);
  std::string text = replaced(tiny_experiment_json(corpus), R"({"name": "ref", "stages": [)",
                              R"({"name": "ref", "model": {"architecture": "transformer", "ffn_hidden": 24}, "stages": [)");
  text = replaced(text, R"({"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560)",
                  R"({"d_model": 32, "match_scratch_tokens": 2560)");
  write_file(dir.file("e.json"), text);
  Engine engine(2);
  testing::CapturedLog log;
  ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  const ModelConfig& grown = runner.plan().runs.front().stages[1].model;
  REQUIRE(grown.architecture == Architecture::Transformer);
  REQUIRE(grown.d_model == 32);
  REQUIRE(grown.n_heads == 4);
  REQUIRE(grown.ffn_hidden == 48);
  REQUIRE(runner.run());
  const nlohmann::json event = nlohmann::json::parse(read_file(dir.file("out/ref-seed0/growth_1.json")));
  const double before = event["loss_before"], after = event["loss_after"];
  REQUIRE(std::abs(after - before) / before < 1e-6);

  // A stage that widens with heads that do not follow, or freezes old rows, is refused on loading, naming the stage.
  write_file(dir.file("bad.json"), replaced(text, R"({"d_model": 32,)", R"({"d_model": 32, "n_heads": 2,)"));
  std::string e = error_of([&] { load_experiment_config(dir.file("bad.json")); });
  REQUIRE(e.find("recipes[0].stages[1]): model.n_heads 2, expected 4") != std::string::npos);
  write_file(dir.file("bad.json"), replaced(text, R"({"d_model": 32,)", R"({"d_model": 32, "growth": {"train_old": false},)"));
  e = error_of([&] { load_experiment_config(dir.file("bad.json")); });
  INFO(e);
  REQUIRE(e.find("recipes[0].stages[1].growth: freezing") != std::string::npos);
}

TEST_CASE("A continual experiment records every corpus's loss after each stage and reports the forgetting table",
          "[experiment][continual]") {
  TempDir dir("experiment_continual");
  const std::string first = make_corpus(dir, 100000);
  std::string shouted = make_text(2, 100000);  // a second corpus with other bytes: upper case
  for (char& ch : shouted) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  write_file(dir.file("upper.txt"), shouted);
  prepare_corpus({dir.file("upper.txt")}, dir.file("upper.h5"), 0.1);
  const std::string second = dir.file("upper.h5");
  std::string text = replaced(tiny_experiment_json(first), R"("match_scratch_tokens": 2560)",
                              R"("match_scratch_tokens": 2560, "data": ")" + second + R"(")");
  // The second recipe continues at the same size on the new corpus (no growth).
  text = replaced(text, R"({"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560,
         "growth")", R"({"tokens": 1280, "data": ")" + second + R"(",
         "growth")");
  write_file(dir.file("e.json"), text);
  const ExperimentConfig config = load_experiment_config(dir.file("e.json"));
  REQUIRE(config.recipes[0].stages[1].data == second);
  Engine engine(2);
  testing::CapturedLog log;
  ExperimentRunner runner(config, dir.file("out"), engine, log);
  REQUIRE(runner.plan().runs.front().stages[1].data_path == second);
  for (const PlannedRun& run : runner.plan().runs)  // the same-size frontier trains on the final stage's corpus
    if (run.kind() == RunKind::Frontier) REQUIRE(run.stages[0].data_path == second);
  REQUIRE(runner.run());
  for (const PlannedRun& run : runner.plan().runs) {
    if (run.kind() != RunKind::Recipe) continue;
    INFO(run.name);
    const nlohmann::json after0 = read_json_file(dir.file("out/" + run.name + "/corpus_losses_0.json"));
    const nlohmann::json after1 = read_json_file(dir.file("out/" + run.name + "/corpus_losses_1.json"));
    REQUIRE(after0["losses"].size() == 1);
    REQUIRE(after1["losses"].size() == 2);
    // Each stage's loss on its own corpus is the trainer's last validation of that stage.
    for (size_t k = 0; k < 2; ++k) {
      const std::vector<MetricsRow> rows = MetricsLog(run.stage_dirs[k] + "/metrics.h5").read();
      REQUIRE(rows.back().step == run.end_step(static_cast<int64_t>(k)));
      const double own = (k == 0 ? after0 : after1)["losses"][k == 0 ? first : second].get<double>();
      REQUIRE(std::abs(own - rows.back().val_loss) <= 1e-9 * own);
    }
    // The second stage learned the new corpus: below what the first stage's model scored on it.
    const nlohmann::json event = read_json_file(dir.file("out/" + run.name + "/growth_1.json"));
    REQUIRE(after1["losses"][second].get<double>() < event["loss_before"].get<double>());
  }
  const std::string summary = read_file(dir.file("out/summary.md"));
  REQUIRE(summary.find("(forgetting; mean") != std::string::npos);
  REQUIRE(summary.find("| anneal | 1 |") != std::string::npos);
  const std::string csv = read_file(dir.file("out/corpus_losses.csv"));
  REQUIRE(csv.find("ref-seed0,ref,0,1,") != std::string::npos);
}

TEST_CASE("A recipe can grow in depth and tokens at once, and its identity growth is measured exact",
          "[experiment][depth]") {
  TempDir dir("experiment_depth");
  const std::string corpus = make_corpus(dir, 100000);
  std::string text = replaced(tiny_experiment_json(corpus), R"({"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560)",
                              R"({"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "n_layers": 2, "match_scratch_tokens": 2560,
         "growth": {"key_init": "zero", "tau": "fixed", "depth_init": "identity"})");
  write_file(dir.file("e.json"), text);
  Engine engine(2);
  testing::CapturedLog log;
  ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  REQUIRE(runner.plan().runs.front().stages[0].model.n_layers == 1);
  REQUIRE(runner.plan().runs.front().stages[1].model.n_layers == 2);
  REQUIRE(runner.run());
  const nlohmann::json event = nlohmann::json::parse(read_file(dir.file("out/ref-seed0/growth_1.json")));
  const double before = event["loss_before"], after = event["loss_after"];
  REQUIRE(std::abs(after - before) / before < 1e-6);
  REQUIRE(event["growth"]["depth_init"] == "identity");

  // Depth must not shrink from one stage to the next.
  write_file(dir.file("bad.json"), replaced(text, "\"model\": {\"d_model\": 16, \"n_layers\": 1", "\"model\": {\"d_model\": 16, \"n_layers\": 3"));
  const std::string e = error_of([&] { load_experiment_config(dir.file("bad.json")); });
  REQUIRE(e.find("recipes[0].stages[1]): n_layers: growth target 2, but the model has 3") != std::string::npos);
}
