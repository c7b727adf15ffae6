#include "experiment/scaling_plan.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "experiment/plan.h"
#include "experiment/report_format.h"

namespace tg {

namespace {
// Train overrides for a swept peak LR: the floor keeps the train section's min_lr / lr
// ratio (absent min_lr: the run config's default, lr / 10).
nlohmann::json lr_overrides(const ExperimentConfig& config, double lr) {
  nlohmann::json t = {{"lr", lr}};
  if (config.train.contains("min_lr")) {
    const double base_lr = config.train.value("lr", TrainConfig{}.lr);
    t["min_lr"] = lr * config.train["min_lr"].get<double>() / base_lr;
  }
  return t;
}

// An explicit train.warmup_steps must fit in every budget's run; this error says how
// to fix it (a value of the wrong type is left to the run config's own check).
void check_warmup_fits(const ExperimentConfig& config, int64_t steps, const std::string& run_name) {
  const auto warmup = config.train.find("warmup_steps");
  if (warmup == config.train.end() || !warmup->is_number_integer() || warmup->get<int64_t>() < steps) return;
  throw UserError(config.file + ": " + run_name + ": " + std::to_string(steps) + " steps at this budget, but " +
                  std::to_string(warmup->get<int64_t>()) + " warmup steps (train.warmup_steps); raise the " +
                  "budget or set scaling.warmup_fraction");
}

// A run spends whole steps, steps = max(1, round(budget / step FLOPs)), and is reported
// at its budget. A budget below one step would train one step at up to many times the
// budget; a budget of a few steps can round far from it. Refused: a budget below one
// step, and whole steps that miss the budget by more than kBudgetSlack of it (every
// budget of at least 1 / (2 kBudgetSlack) = 5 steps is within it: |round(r) - r| <= 1/2).
constexpr double kBudgetSlack = 0.1;

void check_budget_fits_steps(const ExperimentConfig& config, const ScalingSize& size, const ScalingBudget& budget,
                             double flops, double per_step, int64_t steps) {
  const double spent = static_cast<double>(steps) * per_step;
  const double miss = std::abs(spent - flops) / flops;
  if (flops >= per_step && miss <= kBudgetSlack) return;
  const std::string where = config.file + ": scaling: size " + size.name + " at budget " + budget.name + " (" +
                            report::fmt(flops, "%.4g") + " FLOPs): ";
  const double safe_steps = 1 / (2 * kBudgetSlack);
  const std::string fix = "give this size budgets of at least " + report::fmt(safe_steps, "%g") + " steps (" +
                          report::fmt(safe_steps * per_step, "%.4g") + " FLOPs), or use a smaller size";
  if (flops < per_step)
    throw UserError(where + "below one step of this size (" + report::fmt(per_step, "%.4g") + " FLOPs): it would train " +
                    "1 step, " + report::fmt(spent / flops, "%.3g") + "x its budget; " + fix);
  throw UserError(where + report::fmt(flops / per_step, "%.3g") + " steps of " + report::fmt(per_step, "%.4g") +
                  " FLOPs; whole steps (" + std::to_string(steps) + ") would spend " + report::fmt(spent, "%.4g") +
                  " FLOPs, " + report::fmt(100 * miss, "%.0f") + "% off its budget (at most " +
                  report::fmt(100 * kBudgetSlack, "%.0f") + "% is allowed); " + fix);
}

PlannedRun scaling_run(const ExperimentConfig& config, const ScalingSize& size, const ScalingBudget& budget, double lr,
                       double flops, uint64_t seed, const std::string& out_dir, int ranks) {
  const ScalingSpec& sweep = config.scaling;
  PlannedRun run;
  run.name = "scaling-" + size.name + "-" + budget.name + (lr > 0 ? "-lr" + frontier_budget_name(lr) : "") + "-seed" +
             std::to_string(seed);
  run.seed = seed;
  nlohmann::json train = nlohmann::json::object();
  if (lr > 0) train = lr_overrides(config, lr);
  const double per_step = stage_cost(config, size.model, train, run.name, "", ranks).model_flops;
  const int64_t steps = steps_for_flops(flops, per_step);
  check_budget_fits_steps(config, size, budget, flops, per_step, steps);
  if (sweep.warmup_fraction > 0)
    train["warmup_steps"] = std::max<int64_t>(1, std::llround(sweep.warmup_fraction * static_cast<double>(steps)));
  else
    check_warmup_fits(config, steps, run.name);
  RunConfig rc = config.run_config(size.model, train, steps, seed, run.name);
  run.payload = ScalingPoint{size.name, budget.name, rc.train.lr};
  run.stages.push_back(std::move(rc));
  run.stage_step_flops.push_back(per_step);
  run.growth.emplace_back();
  run.stage_dirs.push_back(run_dir(out_dir, run));
  run.planned_flops = static_cast<double>(steps) * per_step;
  return run;
}
}  // namespace

std::vector<PlannedRun> plan_scaling_runs(const ExperimentConfig& config, double reference_flops,
                                          const std::string& out_dir, int ranks) {
  const ScalingSpec& sweep = config.scaling;
  std::vector<PlannedRun> runs;
  for (uint64_t seed : sweep.seeds)
    for (const ScalingSize& size : sweep.sizes)
      for (const ScalingBudget& budget : sweep.budgets) {
        const double flops = budget.flops > 0 ? budget.flops : budget.times_reference * reference_flops;
        const std::vector<double> lrs = size.lrs.empty() ? std::vector<double>{0.0} : size.lrs;
        for (double lr : lrs) runs.push_back(scaling_run(config, size, budget, lr, flops, seed, out_dir, ranks));
      }
  return runs;
}

}  // namespace tg
