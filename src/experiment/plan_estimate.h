#pragma once
// What `tokengrow experiment --plan` prints before anything trains: every run with its
// parameters, tokens, tokens per parameter, FLOPs and an estimated wall time on this
// machine, and the total.
//
// The estimate times a few full training steps of each distinct model and batch
// (bench/train_bench.h: random tokens, the same kernels as training) and adds the
// validation passes:
//   wall ~ steps * t_step + evals * eval_batches * t_step / 3
// (a validation batch is one forward, about a third of a training step), evals =
// steps / eval_every + 1. A first stage shared by several recipes counts once, in the
// first run that trains it. Checkpoint writes and growth are left out.
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "core/engine.h"
#include "experiment/plan.h"
#include "train/memory_estimate.h"

namespace tg {

struct RunEstimate {
  int64_t n_params = 0;   // of the last stage
  int64_t tokens = 0;     // trained, all stages
  double flops = 0;       // planned, every stage of the run
  double own_flops = 0;   // what this run trains itself (a shared first stage counts in its first run only)
  double wall_s = 0;      // estimated for what this run trains itself (NaN when not measured)
};

// Seconds of one micro-batch of each distinct model and batch in the plan: the median of
// measure_steps timed steps (after two untimed ones).
using MicroBatchSeconds = std::map<std::string, double>;
MicroBatchSeconds time_micro_batches(Engine& engine, const Plan& plan, int64_t measure_steps);

// Every run's figures from the plan alone; wall_s from `timed` (empty: NaN).
std::vector<RunEstimate> estimate_plan(const Plan& plan, const MicroBatchSeconds& timed = {});

// The stage of the plan that needs the most memory on each of `ranks` ranks
// (train/memory_estimate.h), and its name ("r-seed0, stage 1"); run null for an empty plan.
struct LargestStage {
  const PlannedRun* run = nullptr;
  size_t stage = 0;
  MemoryEstimate memory;
  std::string name() const;
};
LargestStage largest_stage(const Plan& plan, int ranks);

// One line per run, then the total ("done" runs are marked and not counted in it).
void print_plan(std::ostream& out, const Plan& plan, const std::vector<RunEstimate>& estimates,
                const std::vector<bool>& done);

}  // namespace tg
