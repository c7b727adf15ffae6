// The experiment runner: interrupted and re-run gives the same results as one
// run straight; config errors name the key.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "experiment/experiment_runner.h"
#include "test_data.h"

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

}  // namespace

TEST_CASE("An experiment stopped many times and re-run ends with the same summary as one run straight",
          "[experiment][resume]") {
  TempDir dir("experiment");
  const std::string corpus = make_corpus(dir, 100000);
  write_file(dir.file("e.json"), experiment_json(corpus));
  const ExperimentConfig config = load_experiment_config(dir.file("e.json"));
  Engine engine(2);
  std::ostringstream log;
  {
    ExperimentRunner runner(config, dir.file("straight"), engine, log);
    REQUIRE(runner.plan().size() == 2 * (2 + 3 + 1 + 1));  // seeds x (recipes + frontier + stage size + transformer)
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
  std::ostringstream log;
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

  // The original config continues as before.
  write_file(dir.file("e.json"), text);
  ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  runner.set_step_budget(3);
  REQUIRE_FALSE(runner.run());
}

TEST_CASE("Experiment config errors name the key", "[experiment][errors]") {
  TempDir dir("experiment_bad");
  auto error_of = [&](const std::string& text) {
    write_file(dir.file("bad.json"), text);
    try {
      load_experiment_config(dir.file("bad.json"));
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string data = dir.file("d.h5");
  std::string e = error_of(experiment_json(data, R"(, "colour": "red")"));
  REQUIRE(e.find("recipes[0].stages[1].colour") != std::string::npos);
  REQUIRE(e.find("unknown key") != std::string::npos);
  std::string shrink = experiment_json(data);
  shrink.replace(shrink.find("\"ffn_tokens\": 16"), 16, "\"ffn_tokens\": 4");
  REQUIRE(error_of(shrink).find("must not shrink") != std::string::npos);
  e = error_of(experiment_json(data, R"(, "growth": {"tau": "anneal"})"));
  REQUIRE(e.find("anneal_steps") != std::string::npos);
  std::string no_seeds = experiment_json(data);
  no_seeds.replace(no_seeds.find("\"seeds\": [0, 1],"), 16, "");
  REQUIRE(error_of(no_seeds).find("seeds") != std::string::npos);
  std::string bad_heads = experiment_json(data);
  bad_heads.replace(bad_heads.find("\"n_heads\": 2"), 12, "\"n_heads\": 5");
  REQUIRE(error_of(bad_heads).find("not divisible") != std::string::npos);
}
