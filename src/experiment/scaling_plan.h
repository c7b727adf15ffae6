#pragma once
// The scaling sweep's runs (experiment_config.h `scaling`), for each seed, size, budget and
// LR: scaling-<size>-<budget>[-lr<lr>]-seed<s>, from scratch, one complete schedule over
// its budget: steps = round(FLOPs / FLOPs per step) (plan.h); a budget below one step, or
// one that whole steps miss by more than 10%, is a UserError naming the size, the budget
// and one step's FLOPs. An "x" budget is a multiple of the reference FLOPs. With
// scaling.warmup_fraction > 0, warmup_steps = max(1, round(fraction x steps)).
#include <string>
#include <vector>

#include "experiment/experiment_config.h"
#include "experiment/planned_run.h"

namespace tg {

std::vector<PlannedRun> plan_scaling_runs(const ExperimentConfig& config, double reference_flops,
                                          const std::string& out_dir, int ranks);

}  // namespace tg
