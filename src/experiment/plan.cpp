#include "experiment/plan.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "experiment/scaling_plan.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
// Stage configs and FLOPs of one recipe (the same for every seed).
struct RecipeStages {
  std::vector<RunConfig> stages;
  std::vector<double> step_flops;
  double total_flops = 0;
};

// The FLOPs a recipe with a timing sweep spends in all: those of a from-scratch run of the
// last stage's match_scratch_tokens at the last stage's size.
double recipe_total_flops(const ExperimentConfig& config, const RecipeSpec& recipe) {
  const StageSpec& last = recipe.stages.back();
  const StepCost one_rank = stage_cost(config, last.model, last.train_overrides, recipe.name, "", 1);
  return static_cast<double>(last.match_scratch_tokens) * one_rank.model_flops / static_cast<double>(one_rank.tokens);
}

// Steps of stage k of a recipe, `spent` FLOPs into the run (stage kinds in plan.h).
int64_t stage_steps(const ExperimentConfig& config, const RecipeSpec& recipe, size_t k, const StepCost& cost,
                    double spent, const std::string& where) {
  const StageSpec& s = recipe.stages[k];
  if (k == 0 && recipe.grow_at > 0) return steps_for_flops(recipe.grow_at * recipe_total_flops(config, recipe), cost.model_flops);
  if (s.tokens > 0)
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(s.tokens) / cost.tokens)));
  const double target = static_cast<double>(s.match_scratch_tokens) * cost.model_flops / static_cast<double>(cost.tokens);
  if (target <= spent + cost.model_flops)
    throw UserError(config.file + ": " + where + ": match_scratch_tokens " + std::to_string(s.match_scratch_tokens) +
                    " is already used up by the earlier stages (" + std::to_string(spent) + " FLOPs)");
  return steps_for_flops(target - spent, cost.model_flops);
}

RecipeStages plan_recipe_stages(const ExperimentConfig& config, const RecipeSpec& recipe, int ranks) {
  RecipeStages planned;
  for (size_t k = 0; k < recipe.stages.size(); ++k) {
    const StageSpec& s = recipe.stages[k];
    const std::string where = "recipe " + recipe.name + " stage " + std::to_string(k);
    const StepCost cost = stage_cost(config, s.model, s.train_overrides, where, s.data, ranks);
    const int64_t steps = stage_steps(config, recipe, k, cost, planned.total_flops, where);
    planned.total_flops += static_cast<double>(steps) * cost.model_flops;
    planned.stages.push_back(config.run_config(s.model, s.train_overrides, steps, 0, where, s.data));
    planned.step_flops.push_back(cost.model_flops);
  }
  return planned;
}

// <recipe>-seed<s>; identical first stages of one seed train once, in the first one's directory.
PlannedRun recipe_run(const RecipeSpec& recipe, const RecipeStages& planned, uint64_t seed, const std::string& out_dir,
                      std::map<std::string, std::string>& stage0_dirs) {
  PlannedRun run;
  run.name = recipe.name + "-seed" + std::to_string(seed);
  run.seed = seed;
  run.payload = RecipeRun{recipe.name};
  run.planned_flops = planned.total_flops;
  for (size_t k = 0; k < recipe.stages.size(); ++k) {
    RunConfig rc = planned.stages[k];
    rc.train.seed = seed;
    // The grown checkpoint records how tau evolves; keep the run config in step.
    if (k > 0) rc.model.tau_mode = grown_tau_mode(recipe.stages[k].growth.tau);
    run.stages.push_back(rc);
    run.stage_step_flops.push_back(planned.step_flops[k]);
    run.growth.push_back(recipe.stages[k].growth);
    std::string dir = (fs::path(out_dir) / run.name / ("stage" + std::to_string(k))).string();
    if (k == 0) dir = stage0_dirs.emplace(rc.to_json().dump(), dir).first->second;
    run.stage_dirs.push_back(dir);
  }
  return run;
}

// A from-scratch baseline of `flops`, on the corpus of the stage whose size it has.
PlannedRun baseline_run(const ExperimentConfig& config, const std::string& name, RunPayload payload,
                        const nlohmann::json& model, double flops, const std::string& data, uint64_t seed,
                        const std::string& out_dir, int ranks) {
  PlannedRun run;
  run.name = name + "-seed" + std::to_string(seed);
  run.seed = seed;
  run.payload = std::move(payload);
  const double per_step = stage_cost(config, model, nlohmann::json::object(), name, data, ranks).model_flops;
  const int64_t steps = steps_for_flops(flops, per_step);
  run.stages.push_back(config.run_config(model, nlohmann::json::object(), steps, seed, name, data));
  run.stage_step_flops.push_back(per_step);
  run.growth.emplace_back();
  run.stage_dirs.push_back(run_dir(out_dir, run));
  run.planned_flops = static_cast<double>(steps) * per_step;
  return run;
}

// A Transformer of the final TokenFormer's parameter count P, matched with the MLP width:
//   V d + 2 d + L (4 d^2 + 2 d h) = P  ->  h = (P - V d - 2 d - 4 L d^2) / (2 L d)
nlohmann::json matched_transformer(const ModelConfig& m, const nlohmann::json& final_model) {
  const double p = static_cast<double>(n_params(m));
  const double d = m.d_model, L = m.n_layers, V = m.vocab_size;
  const int64_t h = std::max<int64_t>(1, std::llround((p - V * d - 2 * d - 4 * L * d * d) / (2 * L * d)));
  nlohmann::json model = final_model;
  model["architecture"] = kArchitectureNames.to_string(Architecture::Transformer);
  model["ffn_hidden"] = h;
  return model;
}

// The baselines of one seed: frontier budgets, earlier stage sizes, the Transformer.
void plan_baselines(const ExperimentConfig& config, const Plan& plan, const ModelConfig& final_model, uint64_t seed,
                    const std::string& out_dir, int ranks, std::vector<PlannedRun>& runs) {
  const auto& stages = config.recipes.front().stages;
  const StageSpec& final_size = stages.back();
  const double reference = plan.reference_flops;
  for (double budget : config.baselines.frontier_budgets)
    runs.push_back(baseline_run(config, "frontier-" + frontier_budget_name(budget) + "x", FrontierRun{budget},
                                final_size.model, budget * reference, final_size.data, seed, out_dir, ranks));
  if (config.baselines.stage_sizes)
    for (size_t k = 0; k + 1 < stages.size(); ++k)
      runs.push_back(baseline_run(config, "scratch-stage" + std::to_string(k), StageSizeRun{}, stages[k].model,
                                  reference, stages[k].data, seed, out_dir, ranks));
  if (config.baselines.transformer)
    runs.push_back(baseline_run(config, "transformer", TransformerRun{},
                                matched_transformer(final_model, final_size.model), reference, final_size.data, seed,
                                out_dir, ranks));
}
}  // namespace

StepCost stage_cost(const ExperimentConfig& config, const nlohmann::json& model, const nlohmann::json& train,
                    const std::string& where, const std::string& data, int ranks) {
  const RunShape shape = config.run_shape(model, train, where, data);
  return step_cost(shape.model, shape.batch_size, shape.grad_accum, ranks);
}

int64_t steps_for_flops(double flops, double step_flops) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(flops / step_flops)));
}

Plan make_plan(const ExperimentConfig& config, const std::string& out_dir, int ranks) {
  std::vector<RecipeStages> recipes;
  for (const RecipeSpec& recipe : config.recipes) recipes.push_back(plan_recipe_stages(config, recipe, ranks));
  Plan plan;
  plan.reference_flops = recipes.front().total_flops;
  const ModelConfig& final_model = recipes.front().stages.back().model;
  for (uint64_t seed : config.seeds) {
    std::map<std::string, std::string> stage0_dirs;  // run config -> the directory that trains it
    for (size_t i = 0; i < config.recipes.size(); ++i)
      plan.runs.push_back(recipe_run(config.recipes[i], recipes[i], seed, out_dir, stage0_dirs));
    plan_baselines(config, plan, final_model, seed, out_dir, ranks, plan.runs);
  }
  for (PlannedRun& run : plan_scaling_runs(config, plan.reference_flops, out_dir, ranks))
    plan.runs.push_back(std::move(run));
  return plan;
}

}  // namespace tg
