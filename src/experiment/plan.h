#pragma once
// The plan of an experiment: every run with its stages' configs, step counts and FLOPs,
// computed from the config alone (no engine, nothing trained; only a stage's corpus header
// is read, for its vocabulary). Runs in order, for each seed: the recipes, the frontier
// budgets, the stage sizes, the Transformer; then the scaling sweep (scaling_plan.h).
//
// Step counts (every FLOP count is step_cost's model FLOPs of a global step, model_cost.h,
// over grad_accum micro-batches on each of `ranks` ranks):
//   stage with tokens          steps = max(1, round(tokens / tokens per step))
//   stage with match_scratch   the run's FLOPs reach match_scratch_tokens x FLOPs per token
//                              of this stage: steps = round((target - earlier stages) / per step)
//   timing sweep's first stage steps = round(grow_at x recipe total / per step), the total
//                              being match_scratch_tokens of the last stage at its size
//   baseline of F FLOPs        steps = max(1, round(F / per step))
// The reference (1x) FLOPs are the first recipe's; frontier budgets, stage sizes, the
// Transformer and "x" scaling budgets are multiples of it.
#include <string>
#include <vector>

#include "experiment/experiment_config.h"
#include "experiment/planned_run.h"
#include "model/model_cost.h"

namespace tg {

struct Plan {
  std::vector<PlannedRun> runs;
  double reference_flops = 0;  // the first recipe's: the frontier budgets' 1x
};

// Stage directories lie under out_dir (a first stage shared by recipes of one seed is
// trained once, in the first one's). Errors (a budget a stage cannot meet) name config.file.
Plan make_plan(const ExperimentConfig& config, const std::string& out_dir, int ranks);

// The cost of one global step of a stage, from its overrides, before its step count is
// known (the cost depends on the model and batch, never on the steps).
StepCost stage_cost(const ExperimentConfig& config, const nlohmann::json& model, const nlohmann::json& train,
                    const std::string& where, const std::string& data, int ranks);

// Steps of a run spending `flops` at `step_flops` a step: max(1, round(flops / step_flops)).
int64_t steps_for_flops(double flops, double step_flops);

}  // namespace tg
