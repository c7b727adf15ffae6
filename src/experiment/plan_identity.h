#pragma once
// A run's identity: what it trains, as recorded in out_dir/<run>/plan.json when it starts,
// and the check that a run directory was started with the plan the config gives now.
//
// plan.json: one object per stage, the stage's run config (train.threads and
// train.recompute left out: they change speed and memory, not the experiment), and for
// stages k >= 1 "growth": the growth options into it. Existing experiment directories
// resume against this format, so it must not change.
#include <string>

#include <nlohmann/json.hpp>

#include "experiment/planned_run.h"

namespace tg {

// The plan.json content of a run.
nlohmann::json plan_json(const PlannedRun& run);

// "stages[1].train.lr: 0.002 before, 0.001 now" for the first difference between a
// recorded plan and the one now; "" when they agree. A key a newer binary adds to a run
// config (absent from older plans) is no difference while it holds its default.
std::string plan_difference(const nlohmann::json& before, const nlohmann::json& now);

// Writes run_dir/plan.json unless it exists.
void record_plan(const PlannedRun& run, const std::string& run_dir);

// Throws UserError naming run_dir, config_file and the first difference if run_dir holds
// a plan.json other than the run's plan (the config changed between runs of the command).
void check_plan(const PlannedRun& run, const std::string& run_dir, const std::string& config_file);

}  // namespace tg
