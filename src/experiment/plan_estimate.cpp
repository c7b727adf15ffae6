#include "experiment/plan_estimate.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "bench/train_bench.h"
#include "model/model_cost.h"

namespace tg {

namespace {
// The key of what a micro-batch costs: the model and the batch (a step is grad_accum of them).
std::string cost_key(const RunConfig& rc) {
  return rc.model.to_json().dump() + "/" + std::to_string(rc.train.batch_size);
}

// One rank's step (step_cost with one rank) runs `step.micro_batches` micro-batches; ranks run theirs at once.
double stage_wall_s(const RunConfig& rc, const StepCost& step, double micro_batch_s) {
  const int64_t steps = rc.train.steps;
  const int64_t evals = (rc.train.eval_every > 0 ? steps / rc.train.eval_every : 0) + 1;
  return static_cast<double>(steps * step.micro_batches) * micro_batch_s +
         static_cast<double>(evals * rc.train.eval_batches) * micro_batch_s / 3.0;
}

std::string duration(double s) {
  if (!std::isfinite(s)) return "?";
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.2f h", s / 3600);
  return buf;
}
}  // namespace

MicroBatchSeconds time_micro_batches(Engine& engine, const Plan& plan, int64_t measure_steps) {
  MicroBatchSeconds seconds;
  for (const PlannedRun& run : plan.runs)
    for (const RunConfig& rc : run.stages) {
      const std::string key = cost_key(rc);
      if (seconds.count(key)) continue;
      BenchOptions options;
      options.steps = measure_steps;
      options.warmup_steps = 2;
      seconds[key] = run_train_bench(engine, rc, options).median_step_s;  // one micro-batch
    }
  return seconds;
}

std::vector<RunEstimate> estimate_plan(const Plan& plan, const MicroBatchSeconds& timed) {
  std::vector<RunEstimate> estimates;
  std::set<std::string> own_dirs;  // a first stage shared by several recipes trains once
  for (const PlannedRun& run : plan.runs) {
    RunEstimate e;
    e.n_params = n_params(run.stages.back().model);
    e.flops = run.planned_flops;
    e.wall_s = timed.empty() ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    for (size_t k = 0; k < run.stages.size(); ++k) {
      const RunConfig& rc = run.stages[k];
      const StepCost step = step_cost(rc.model, rc.train.batch_size, rc.train.grad_accum, 1);
      e.tokens += rc.train.steps * step.tokens;
      if (!own_dirs.insert(run.stage_dirs[k]).second) continue;  // trained by an earlier run
      e.own_flops += static_cast<double>(rc.train.steps) * run.stage_step_flops[k];
      if (!timed.empty()) e.wall_s += stage_wall_s(rc, step, timed.at(cost_key(rc)));
    }
    estimates.push_back(e);
  }
  return estimates;
}

std::string LargestStage::name() const {
  return run ? run->name + ", stage " + std::to_string(stage) : "";
}

LargestStage largest_stage(const Plan& plan, int ranks) {
  LargestStage largest;
  for (const PlannedRun& run : plan.runs)
    for (size_t k = 0; k < run.stages.size(); ++k) {
      const MemoryEstimate memory = estimate_train_memory(run.stages[k].model, run.stages[k].train, ranks);
      if (!largest.run || memory.total() > largest.memory.total()) largest = {&run, k, memory};
    }
  return largest;
}

void print_plan(std::ostream& out, const Plan& plan, const std::vector<RunEstimate>& estimates,
                const std::vector<bool>& done) {
  char line[512];
  std::snprintf(line, sizeof line, "%-44s %-11s %10s %12s %8s %10s %8s  %s\n", "run", "kind", "params", "tokens",
                "tok/par", "TFLOP", "est.", "steps per stage");
  out << line;
  double total_s = 0, total_flops = 0;
  int64_t todo = 0;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const PlannedRun& run = plan.runs[i];
    const RunEstimate& e = estimates[i];
    std::string steps;
    for (const RunConfig& rc : run.stages) steps += (steps.empty() ? "" : " ") + std::to_string(rc.train.steps);
    std::snprintf(line, sizeof line, "%-44s %-11s %10lld %12lld %8.1f %10.4g %8s  %s%s\n", run.name.c_str(),
                  kRunKindNames.to_string(run.kind()).c_str(), static_cast<long long>(e.n_params), static_cast<long long>(e.tokens),
                  static_cast<double>(e.tokens) / static_cast<double>(e.n_params), e.flops / 1e12,
                  duration(e.wall_s).c_str(), steps.c_str(), done[i] ? "  (done)" : "");
    out << line;
    if (done[i]) continue;
    ++todo;
    total_s += e.wall_s;
    total_flops += e.own_flops;
  }
  out << plan.runs.size() << " runs, " << todo << " to train: " << total_flops / 1e12 << " TFLOP, estimated "
      << duration(total_s) << " on this machine (training steps and validation; a shared first stage counted "
      << "once, in the first run that trains it)\n";
}

}  // namespace tg
