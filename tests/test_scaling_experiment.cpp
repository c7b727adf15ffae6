// The scaling sweep of an experiment config: its expansion into from-scratch runs
// (sizes x budgets x LRs x seeds) and growth-timing recipes, named stably; re-running
// with more budgets trains only the new runs; the report's IsoFLOP table and envelope.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "core/error.h"
#include "experiment/experiment_runner.h"
#include "experiment/scaling_report.h"
#include "sanitized_sizes.h"
#include "test_data.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {

// A 1-layer TokenFormer; a timing sweep of one recipe; three sizes at two budgets.
std::string scaling_json(const std::string& data, const std::string& budgets = R"([2e8, "1x"])") {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
    "train": {"batch_size": 4, "lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2, "log_every": 5, "eval_every": 0,
              "eval_batches": 2, "keep_checkpoints": 1},
    "seeds": [0],
    "recipes": [
      {"name": "ref", "grow_at": [0.25, 0.5], "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560}]}],
    "baselines": {"frontier_budgets": [], "stage_sizes": false, "transformer": false},
    "scaling": {"sizes": [
        {"name": "s4", "model": {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8}},
        {"name": "s8", "model": {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16}, "lrs": [1e-3, 3e-3]},
        {"name": "s16", "model": {"qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 32}}],
      "budgets": )" + budgets + R"(, "warmup_fraction": 0.1}})";
}

std::vector<std::string> names_of(const std::vector<PlannedRun>& plan) {
  std::vector<std::string> names;
  for (const PlannedRun& run : plan) names.push_back(run.name);
  return names;
}

const PlannedRun& find_run(const std::vector<PlannedRun>& plan, const std::string& name) {
  for (const PlannedRun& run : plan)
    if (run.name == name) return run;
  FAIL("no run " << name);
  return plan.front();
}

std::string config_error(const TempDir& dir, const std::string& text) {
  write_file(dir.file("bad.json"), text);
  return error_of([&] { load_experiment_config(dir.file("bad.json")); });
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("A scaling sweep expands into sizes x budgets x LRs, each run one complete schedule over its budget",
          "[experiment][scaling]") {
  TempDir dir("scaling_plan");
  write_file(dir.file("e.json"), scaling_json(dir.file("none.h5")));
  Engine engine(1);
  CapturedLog log;
  const ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  const std::vector<std::string> expected = {
      "ref-at0.25-seed0", "ref-at0.5-seed0",
      "scaling-s4-2e8-seed0", "scaling-s4-1x-seed0",
      "scaling-s8-2e8-lr0.001-seed0", "scaling-s8-2e8-lr0.003-seed0", "scaling-s8-1x-lr0.001-seed0", "scaling-s8-1x-lr0.003-seed0",
      "scaling-s16-2e8-seed0", "scaling-s16-1x-seed0"};
  REQUIRE(names_of(runner.plan().runs) == expected);

  // The timing sweep: the first stage takes grow_at of the total, the last stage the rest.
  const PlannedRun& early = find_run(runner.plan().runs, "ref-at0.25-seed0");
  const PlannedRun& late = find_run(runner.plan().runs, "ref-at0.5-seed0");
  const double total = early.planned_flops;
  REQUIRE(late.planned_flops == Approx(total).epsilon(0.02));
  // Steps are whole: each stage's FLOPs are off by at most half a step of its own.
  const double rounding = 0.5 * early.stage_step_flops[0] + 0.5 * early.stage_step_flops[1];
  REQUIRE(std::abs(early.stage_step_flops[0] * early.stages[0].train.steps - 0.25 * total) <= rounding);
  REQUIRE(std::abs(late.stage_step_flops[0] * late.stages[0].train.steps - 0.5 * total) <= rounding);
  REQUIRE(std::abs(late.stages[0].train.steps - 2 * early.stages[0].train.steps) <= 1);

  for (const PlannedRun& run : runner.plan().runs) {
    const ScalingPoint* point = run.as<ScalingPoint>();
    if (!point) continue;
    INFO(run.name);
    const TrainConfig& t = run.stages[0].train;
    // Exactly its budget (to one step), its own warmup (10%) and cosine over all its steps.
    const double budget = point->budget_name == "1x" ? runner.plan().reference_flops : 2e8;
    REQUIRE(std::abs(run.planned_flops - budget) <= 0.5 * run.stage_step_flops[0] + 1);
    REQUIRE(t.warmup_steps == std::max<int64_t>(1, std::llround(0.1 * static_cast<double>(t.steps))));
    REQUIRE(run.stages[0].train.schedule == "stage");
    // A swept LR keeps the train section's floor ratio (min_lr / lr = 0.1).
    REQUIRE(t.min_lr == Approx(0.1 * t.lr));
    REQUIRE(point->lr == t.lr);
  }
  REQUIRE(find_run(runner.plan().runs, "scaling-s8-2e8-lr0.001-seed0").stages[0].train.lr == 1e-3);
  REQUIRE(find_run(runner.plan().runs, "scaling-s4-2e8-seed0").stages[0].train.lr == 3e-3);
  // Bigger models take fewer steps for the same budget.
  REQUIRE(find_run(runner.plan().runs, "scaling-s16-2e8-seed0").stages[0].train.steps <
          find_run(runner.plan().runs, "scaling-s4-2e8-seed0").stages[0].train.steps);
}

TEST_CASE("Without warmup_steps or warmup_fraction each scaling run warms up over 1% of its steps",
          "[experiment][scaling]") {
  TempDir dir("scaling_default_warmup");
  write_file(dir.file("e.json"), replaced(replaced(scaling_json(dir.file("none.h5")), "\"warmup_steps\": 2, ", ""),
                                          ", \"warmup_fraction\": 0.1", ""));
  Engine engine(1);
  CapturedLog log;
  const ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
  for (const PlannedRun& run : runner.plan().runs) {
    if (run.kind() != RunKind::Scaling) continue;
    const TrainConfig& t = run.stages[0].train;
    REQUIRE(t.warmup_steps == std::max<int64_t>(1, t.steps / 100));
  }
}

TEST_CASE("Scaling and timing config errors name the key and the value", "[experiment][scaling][errors]") {
  TempDir dir("scaling_bad");
  const std::string good = scaling_json(dir.file("d.h5"));
  std::string e = config_error(dir, replaced(good, R"("1x"])", R"("x1"])"));
  INFO(e);
  REQUIRE(e.find("bad.json: scaling.budgets: expected FLOPs") != std::string::npos);
  REQUIRE(e.find("\"x1\"") != std::string::npos);
  e = config_error(dir, replaced(good, "[2e8, \"1x\"]", "[2e8, 2.0e8]"));
  REQUIRE(e.find("scaling.budgets: 200000000.0 is listed twice") != std::string::npos);
  e = config_error(dir, replaced(good, R"("name": "s16")", R"("name": "s4")"));
  REQUIRE(e.find("size name \"s4\" is used twice") != std::string::npos);
  // The same model as s8 under another name, once the experiment's model and the defaults
  // are filled in (d_model 16 is the experiment's, ffn_hidden 64 the default 4 d).
  e = config_error(dir, replaced(good, R"("name": "s16", "model": {"qkv_tokens": 16, "proj_tokens": 16, "ffn_tokens": 32})",
                                 R"("name": "s16", "model": {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, )"
                                 R"("d_model": 16, "ffn_hidden": 64})"));
  REQUIRE(e.find("bad.json: scaling.sizes: sizes \"s8\" and \"s16\" are the same model; it would be trained twice") !=
          std::string::npos);
  e = config_error(dir, replaced(good, R"("name": "s16")", R"("name": "s-16")"));
  REQUIRE(e.find("scaling.sizes[2].name: expected 1-64 letters, digits, '_' or '.'") != std::string::npos);
  e = config_error(dir, replaced(good, R"("ffn_tokens": 32})", R"("ffn_tokens": 32, "colour": 1})"));
  REQUIRE(e.find("bad.json (scaling.sizes[2]): model.colour: unknown key") != std::string::npos);
  e = config_error(dir, replaced(good, R"("lrs": [1e-3, 3e-3])", R"("lrs": [1e-3, 0.001])"));
  REQUIRE(e.find("scaling.sizes[1].lrs: 0.001 is listed twice") != std::string::npos);
  e = config_error(dir, replaced(good, R"({"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8},
        {"qkv_tokens": 8)", R"({"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 640},
        {"qkv_tokens": 8)"));
  REQUIRE(e.find("recipes[0].stages[0].tokens: the recipe's grow_at sets the first stage's budget") != std::string::npos);
  e = config_error(dir, replaced(good, "\"grow_at\": [0.25, 0.5]", "\"grow_at\": [0.25, 1.5]"));
  REQUIRE(e.find("recipes[0].grow_at: expected numbers in (0, 0.95], got 1.5") != std::string::npos);
  e = config_error(dir, replaced(good, "\"grow_at\": [0.25, 0.5]", "\"grow_at\": [0.5, 0.50]"));
  REQUIRE(e.find("recipes[0].grow_at: 0.5 is listed twice (run ref-at0.5)") != std::string::npos);

  // A budget too small for the warmup is refused when the plan is made, naming the run.
  // 4.2e6 FLOPs is 2.03 steps of s4 (2064384 FLOPs): 2 steps, no more than its 2 warmup steps.
  write_file(dir.file("small.json"), replaced(replaced(good, "[2e8, \"1x\"]", "[4.2e6]"), "\"warmup_fraction\": 0.1", "\"seeds\": [0]"));
  Engine engine(1);
  CapturedLog log;
  try {
    ExperimentRunner(load_experiment_config(dir.file("small.json")), dir.file("out"), engine, log);
    FAIL("a budget of fewer steps than warmup steps was accepted");
  } catch (const UserError& error) {
    const std::string message = error.what();
    INFO(message);
    REQUIRE(message.find("small.json: scaling-s4-4.2e6-seed0: ") != std::string::npos);
    REQUIRE(message.find("warmup steps (train.warmup_steps); raise the budget or set scaling.warmup_fraction") !=
            std::string::npos);
  }
}

TEST_CASE("A scaling experiment reports its IsoFLOP table, and more budgets train only the new runs",
          "[experiment][scaling][resume]") {
  TempDir dir("scaling_run");
  const int64_t report_resamples = release_or_sanitized(kBootstrapSamples, int64_t{20});
  const std::string corpus = make_corpus(dir, 100000);
  write_file(dir.file("e.json"), scaling_json(corpus));
  Engine engine(2);
  CapturedLog log;
  {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    runner.set_bootstrap_samples(report_resamples);
    REQUIRE(runner.run());
  }
  const std::string md = read_file(dir.file("out/summary.md"));
  INFO(md);
  REQUIRE(md.find("## Scaling sweep: IsoFLOP table") != std::string::npos);
  REQUIRE(md.find("| s4 (") != std::string::npos);
  REQUIRE(md.find("## When to grow (timing sweeps)") != std::string::npos);
  REQUIRE(md.find("## Growth against the envelope") != std::string::npos);
  REQUIRE(md.find("over " + std::to_string(report_resamples) + " bootstrap resamples") != std::string::npos);
  // One row per (budget, size): the best of s8's two LRs; one minimum per budget.
  const std::string csv = read_file(dir.file("out/scaling.csv"));
  size_t rows = 0, minima = 0;
  for (size_t at = csv.find('\n'); at != std::string::npos && at + 1 < csv.size(); at = csv.find('\n', at + 1)) {
    ++rows;
    minima += csv.compare(csv.find('\n', at + 1) - 2, 2, ",1") == 0 ? 1 : 0;
  }
  REQUIRE(rows == 6);
  REQUIRE(minima == 2);

  // A third budget: only its three sizes (four runs with s8's LRs) train.
  const auto before = fs::last_write_time(dir.file("out/scaling-s4-2e8-seed0/latest.h5"));
  write_file(dir.file("e.json"), scaling_json(corpus, R"([2e8, "1x", 4e8])"));
  {
    ExperimentRunner runner(load_experiment_config(dir.file("e.json")), dir.file("out"), engine, log);
    // recipes (2), s4 (3 budgets), s8 (3 budgets x 2 LRs), s16 (3 budgets)
    REQUIRE(done_runs(runner.plan().runs, dir.file("out")) == std::vector<bool>{true, true, true, true, false, true, true, true, true, false, false,
                                                    true, true, false});
    runner.set_bootstrap_samples(report_resamples);
    REQUIRE(runner.run());
  }
  REQUIRE(fs::last_write_time(dir.file("out/scaling-s4-2e8-seed0/latest.h5")) == before);
  REQUIRE(fs::exists(dir.file("out/scaling-s16-4e8-seed0/done.json")));
  REQUIRE(read_file(dir.file("out/summary.md")).find("| 4e8 |") != std::string::npos);
}
