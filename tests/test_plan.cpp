// The experiment plan as data (experiment/plan.h): run kinds, names and order, stage step
// counts, FLOPs, frontier budgets, the scaling sweep and plan.json, from the config alone.
// Nothing trains; the FLOPs are counted by hand from the model shapes below.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "experiment/plan.h"
#include "experiment/plan_identity.h"
#include "test_data.h"

using namespace tg;
using namespace tg::testing;

namespace {

// One-layer TokenFormers, d 16, vocab 32, batch 4 x seq 16 (R = 64 rows a micro-batch).
// Forward FLOPs (model_cost.h): Pattentions 2 R n 2d over n = 3 qkv + proj + ffn tokens,
// logits 2 R d V = 65536, attention 4 B d T^2 = 65536.
//   small (4, 4, 8):    n = 24: 98304 + 65536 + 65536 = 229376; a step 3x = 688128
//   large (8, 8, 16):   n = 48: 196608 + 131072 = 327680;       a step 3x = 983040
// The Transformer matching large's 1536 + 512 + 32 = 2080 parameters has
//   h = (2080 - 512 - 32 - 4 x 256) / 32 = 16, forward 8 R d^2 + 4 R d h + 131072 = 327680.
constexpr double kSmallStep = 688128, kLargeStep = 983040;

std::string plan_json_text(const std::string& data) {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "vocab_size": 32},
    "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2},
    "seeds": [0, 1],
    "recipes": [
      {"name": "ref", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560}]},
      {"name": "zero", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 1280},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560,
         "growth": {"key_init": "zero"}}]},
      {"name": "t", "grow_at": [0.25], "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 2560}]}],
    "baselines": {"frontier_budgets": [0.5, 1]},
    "scaling": {"sizes": [{"name": "s4", "model": {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8},
                           "lrs": [1e-3, 3e-3]}],
                "budgets": [1e7, "1x"]}})";
}

Plan plan_of_config(const TempDir& dir, int ranks) {
  write_file(dir.file("e.json"), plan_json_text(dir.file("none.h5")));
  return make_plan(load_experiment_config(dir.file("e.json")), dir.file("out"), ranks);
}

const PlannedRun& find_run(const Plan& plan, const std::string& name) {
  for (const PlannedRun& run : plan.runs)
    if (run.name == name) return run;
  FAIL("no run " << name);
  return plan.runs.front();
}

std::vector<int64_t> steps_of(const PlannedRun& run) {
  std::vector<int64_t> steps;
  for (const RunConfig& rc : run.stages) steps.push_back(rc.train.steps);
  return steps;
}

}  // namespace

TEST_CASE("A plan lists every run by kind, in order, with its name", "[plan]") {
  TempDir dir("plan_order");
  const Plan plan = plan_of_config(dir, 1);
  std::vector<std::string> names;
  std::vector<RunKind> kinds;
  for (const PlannedRun& run : plan.runs) {
    names.push_back(run.name);
    kinds.push_back(run.kind());
  }
  const std::vector<std::string> expected_names = {
      "ref-seed0", "zero-seed0", "t-at0.25-seed0", "frontier-0.5x-seed0", "frontier-1x-seed0",
      "scratch-stage0-seed0", "transformer-seed0",
      "ref-seed1", "zero-seed1", "t-at0.25-seed1", "frontier-0.5x-seed1", "frontier-1x-seed1",
      "scratch-stage0-seed1", "transformer-seed1",
      "scaling-s4-1e7-lr0.001-seed0", "scaling-s4-1e7-lr0.003-seed0", "scaling-s4-1x-lr0.001-seed0",
      "scaling-s4-1x-lr0.003-seed0"};
  REQUIRE(names == expected_names);
  using K = RunKind;
  const std::vector<RunKind> per_seed = {K::Recipe, K::Recipe, K::Recipe, K::Frontier, K::Frontier, K::StageSize,
                                         K::Transformer};
  std::vector<RunKind> expected_kinds = per_seed;
  expected_kinds.insert(expected_kinds.end(), per_seed.begin(), per_seed.end());
  expected_kinds.insert(expected_kinds.end(), 4, K::Scaling);
  REQUIRE(kinds == expected_kinds);
  REQUIRE(plan.runs[7].seed == 1);
  REQUIRE(plan.runs[7].as<RecipeRun>()->recipe == "ref");
  REQUIRE(plan.runs[3].as<FrontierRun>()->budget == 0.5);
  REQUIRE(plan.runs[3].as<RecipeRun>() == nullptr);
  // The names written to done.json, the summaries and experiment.h5.
  REQUIRE(kRunKindNames.to_string(K::Recipe) == "recipe");
  REQUIRE(kRunKindNames.to_string(K::Frontier) == "frontier");
  REQUIRE(kRunKindNames.to_string(K::StageSize) == "stage_size");
  REQUIRE(kRunKindNames.to_string(K::Transformer) == "transformer");
  REQUIRE(kRunKindNames.to_string(K::Scaling) == "scaling");
  REQUIRE(kRunKindNames.parse("stage_size") == K::StageSize);
}

TEST_CASE("A plan's stage steps and FLOPs are the hand-counted ones", "[plan]") {
  TempDir dir("plan_flops");
  const Plan plan = plan_of_config(dir, 1);
  // ref: 1280 tokens / 64 = 20 steps; then up to 2560 tokens' FLOPs at the large size,
  // 2560 x 983040 / 64 = 39321600: (39321600 - 20 x 688128) / 983040 = 26 steps.
  const PlannedRun& ref = find_run(plan, "ref-seed0");
  REQUIRE(steps_of(ref) == std::vector<int64_t>{20, 26});
  REQUIRE(ref.stage_step_flops == std::vector<double>{kSmallStep, kLargeStep});
  REQUIRE(ref.planned_flops == 39321600);
  REQUIRE(plan.reference_flops == 39321600);
  REQUIRE(ref.end_flops(1) == 20 * kSmallStep + 26 * kLargeStep);
  // The timing sweep's first stage: round(0.25 x 39321600 / 688128) = 14 steps; the rest
  // round((39321600 - 14 x 688128) / 983040) = round(30.2) = 30.
  const PlannedRun& timed = find_run(plan, "t-at0.25-seed0");
  REQUIRE(steps_of(timed) == std::vector<int64_t>{14, 30});
  REQUIRE(timed.planned_flops == 14 * kSmallStep + 30 * kLargeStep);
  // Frontier budgets: 0.5x and 1x of 39321600 at the large size: 20 and 40 steps.
  REQUIRE(steps_of(find_run(plan, "frontier-0.5x-seed0")) == std::vector<int64_t>{20});
  REQUIRE(find_run(plan, "frontier-0.5x-seed0").planned_flops == 20 * kLargeStep);
  REQUIRE(steps_of(find_run(plan, "frontier-1x-seed1")) == std::vector<int64_t>{40});
  // The first stage's size at 1x: round(39321600 / 688128) = round(57.14) = 57.
  const PlannedRun& scratch = find_run(plan, "scratch-stage0-seed0");
  REQUIRE(steps_of(scratch) == std::vector<int64_t>{57});
  REQUIRE(scratch.planned_flops == 57 * kSmallStep);
  // The Transformer: ffn_hidden 16, the large size's step cost, 40 steps.
  const PlannedRun& transformer = find_run(plan, "transformer-seed0");
  REQUIRE(transformer.stages[0].model.architecture == Architecture::Transformer);
  REQUIRE(transformer.stages[0].model.ffn_hidden == 16);
  REQUIRE(transformer.stage_step_flops[0] == kLargeStep);
  REQUIRE(steps_of(transformer) == std::vector<int64_t>{40});
  for (const PlannedRun& run : plan.runs) REQUIRE(run.stages.back().train.seed == run.seed);
}

TEST_CASE("A plan's scaling runs spend their budgets at their LRs", "[plan]") {
  TempDir dir("plan_scaling");
  const Plan plan = plan_of_config(dir, 1);
  // 1e7 / 688128 = 14.53: 15 steps; 1x = 39321600: 57 steps.
  const PlannedRun& small_budget = find_run(plan, "scaling-s4-1e7-lr0.003-seed0");
  REQUIRE(steps_of(small_budget) == std::vector<int64_t>{15});
  REQUIRE(small_budget.planned_flops == 15 * kSmallStep);
  const ScalingPoint* point = small_budget.as<ScalingPoint>();
  REQUIRE(point->size == "s4");
  REQUIRE(point->budget_name == "1e7");
  REQUIRE(point->lr == 3e-3);
  const PlannedRun& reference_budget = find_run(plan, "scaling-s4-1x-lr0.001-seed0");
  REQUIRE(steps_of(reference_budget) == std::vector<int64_t>{57});
  REQUIRE(reference_budget.stages[0].train.lr == 1e-3);
  REQUIRE(reference_budget.as<ScalingPoint>()->lr == 1e-3);
}

TEST_CASE("A scaling budget below one step, or that whole steps miss by over 10%, is refused naming size, budget "
          "and step", "[plan][errors]") {
  TempDir dir("plan_small_budget");
  // Batch 8: a step of s4 is 2 x 688128 = 1376256 FLOPs.
  auto plan_error = [&](const std::string& budgets) -> std::string {
    std::string text = plan_json_text(dir.file("none.h5"));
    text.replace(text.find("\"batch_size\": 4"), 15, "\"batch_size\": 8");
    text.replace(text.find("[1e7, \"1x\"]"), 11, budgets);
    write_file(dir.file("e.json"), text);
    try {
      make_plan(load_experiment_config(dir.file("e.json")), dir.file("out"), 1);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  // 1e6 is 0.73 steps: rounded up to one step, 1.38x the budget.
  std::string e = plan_error("[1e6]");
  INFO(e);
  REQUIRE(e.find("e.json: scaling: size s4 at budget 1e6 (1e+06 FLOPs): below one step of this size (1.376e+06 FLOPs)"
                 ": it would train 1 step, 1.38x its budget; give this size budgets of at least 5 steps (6.881e+06 "
                 "FLOPs), or use a smaller size") != std::string::npos);
  // 2e6 is 1.45 steps: one step spends 31% less; 2.4e6 is 1.74 steps: two spend 15% more.
  e = plan_error("[2e6]");
  REQUIRE(e.find("size s4 at budget 2e6 (2e+06 FLOPs): 1.45 steps of 1.376e+06 FLOPs; whole steps (1) would spend "
                 "1.376e+06 FLOPs, 31% off its budget (at most 10% is allowed)") != std::string::npos);
  REQUIRE(plan_error("[2.4e6]").find("whole steps (2) would spend 2.753e+06 FLOPs, 15% off") != std::string::npos);
  // 6e6 is 4.36 steps: four miss it by 8%, within 10%; 4128768 is exactly three steps.
  REQUIRE(plan_error("[6e6]").empty());
  e = plan_error("[4128768]");
  INFO(e);
  REQUIRE(e.empty());
}

TEST_CASE("A plan counts every rank's batch: half the steps on two ranks, the same FLOPs", "[plan]") {
  TempDir dir("plan_ranks");
  const Plan one = plan_of_config(dir, 1), two = plan_of_config(dir, 2);
  const PlannedRun& ref = find_run(two, "ref-seed0");
  // 1280 / 128 = 10 steps; (39321600 - 10 x 1376256) / 1966080 = 13.
  REQUIRE(steps_of(ref) == std::vector<int64_t>{10, 13});
  REQUIRE(ref.stage_step_flops == std::vector<double>{2 * kSmallStep, 2 * kLargeStep});
  REQUIRE(two.reference_flops == one.reference_flops);
  REQUIRE(steps_of(find_run(two, "frontier-1x-seed0")) == std::vector<int64_t>{20});
}

TEST_CASE("Recipes with the same first stage train it once, in the first one's directory", "[plan]") {
  TempDir dir("plan_dirs");
  const Plan plan = plan_of_config(dir, 1);
  const PlannedRun &ref = find_run(plan, "ref-seed0"), &zero = find_run(plan, "zero-seed0");
  REQUIRE(ref.stage_dirs == std::vector<std::string>{dir.file("out/ref-seed0/stage0"), dir.file("out/ref-seed0/stage1")});
  REQUIRE(zero.stage_dirs == std::vector<std::string>{dir.file("out/ref-seed0/stage0"), dir.file("out/zero-seed0/stage1")});
  // Another seed trains another first stage; the timing sweep's first stage is shorter.
  REQUIRE(find_run(plan, "zero-seed1").stage_dirs[0] == dir.file("out/ref-seed1/stage0"));
  REQUIRE(find_run(plan, "t-at0.25-seed0").stage_dirs[0] == dir.file("out/t-at0.25-seed0/stage0"));
  REQUIRE(find_run(plan, "frontier-1x-seed0").stage_dirs == std::vector<std::string>{dir.file("out/frontier-1x-seed0")});
  REQUIRE(run_dir(dir.file("out"), zero) == dir.file("out/zero-seed0"));
}

TEST_CASE("plan.json holds each stage's run config and growth options, without threads and recompute", "[plan]") {
  TempDir dir("plan_identity");
  const Plan plan = plan_of_config(dir, 1);
  const PlannedRun& zero = find_run(plan, "zero-seed0");
  const nlohmann::json recorded = plan_json(zero);
  REQUIRE(recorded.is_array());
  REQUIRE(recorded.size() == 2);
  for (size_t k = 0; k < 2; ++k) {
    nlohmann::json expected = zero.stages[k].to_json();
    expected["train"].erase("threads");
    expected["train"].erase("recompute");
    if (k == 1) expected["growth"] = zero.growth[1].to_json();
    REQUIRE(recorded[k] == expected);
  }
  REQUIRE(recorded[1]["growth"]["key_init"] == "zero");
  REQUIRE(!recorded[0].contains("growth"));
  REQUIRE(plan_difference(recorded, plan_json(zero)).empty());
  nlohmann::json changed = recorded;
  changed[1]["train"]["lr"] = 0.001;
  REQUIRE(plan_difference(recorded, changed) == "stages[1].train.lr: 0.003 before, 0.001 now");
  // A key missing from an older plan is no difference while it holds its default.
  nlohmann::json older = recorded;
  older[0]["train"].erase("max_rollbacks");
  REQUIRE(plan_difference(older, recorded).empty());
}
