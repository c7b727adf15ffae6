#pragma once
// The training-step benchmark behind `tokengrow bench`: full steps (forward, backward,
// global-norm clip, AdamW) of a model on synthetic tokens, timed step by step and
// per part of the step (core/part_timer.h).
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/communicator.h"
#include "core/engine.h"
#include "core/part_timer.h"
#include "train/run_config.h"

namespace tg {

struct BenchOptions {
  int64_t steps = 20;        // timed steps
  int64_t warmup_steps = 3;  // untimed steps first (primitive creation, first-touch allocation)
  uint64_t seed = 0;
  // The ranks of a data-parallel bench (under mpirun): each rank trains its own batch
  // and the gradients are all-reduced every step (train/gradient_reducer.h). Null: alone.
  Communicator* comm = nullptr;
};

// Resident memory by what first took it, measured over the first step (a warmup step, so
// the /proc reads around every part cost no timed step). Buffers are kept across steps,
// so this is the memory every later step reuses; the peak adds what a step frees again.
struct MemoryByPart {
  using PartBytes = std::vector<std::pair<std::string, int64_t>>;
  int64_t runtime_bytes = 0;  // resident before the model is built: the program, its libraries, the engine
  int64_t model_and_optimizer_bytes = 0;  // building the model and AdamW: weights, gradients and both moments
  // The resident growth of each step part (layers/step_parts.h) in the forward and in the
  // backward, in the order first timed; "other" is the growth in no timed part.
  PartBytes forward, backward;
  int64_t optimizer_step_bytes = 0;  // clipping, AdamW, and any gradient all-reduce
  int64_t after_first_step = 0;    // resident after the first step: the sum of all the above
};

struct BenchResult {
  int64_t batch = 0, seq = 0, n_params = 0;
  std::vector<double> step_seconds;   // each timed step
  double median_step_s = 0;
  double tokens_per_s = 0;            // batch * seq / median step
  // 3 x forward FLOPs (docs/flops.md): model FLOPs (attention over the full T x T, the
  // accounting unit) and executed FLOPs (without the attention blocks never computed).
  double model_gflop_per_step = 0, executed_gflop_per_step = 0;
  double achieved_gflops = 0;         // executed_gflop_per_step / median step
  double first_loss = 0, last_loss = 0;
  int ranks = 1;                      // tokens_per_s counts every rank's batch
  int64_t reduced_bytes = 0;          // gradient bytes each rank all-reduces per step
  double median_reduce_s = 0;         // of the all-reduce alone
  // Minor page faults per timed step: pages touched for the first time (memory freed and
  // allocated again faults again; buffers kept across steps do not).
  double page_faults_per_step = 0;
  // Mean seconds per step of each part: step_part::kAll's (layers/step_parts.h) in its
  // order, then any other part timed. "other" is the step time not in any timed part.
  std::vector<std::pair<std::string, double>> part_seconds;
  std::optional<MemoryByPart> memory;  // none without a warmup step
};

// Builds config.model, initialises it from options.seed, and trains it on uniformly random
// tokens with config.train's batch size, lr (constant), AdamW settings and clip.
BenchResult run_train_bench(Engine& engine, const RunConfig& config, const BenchOptions& options);

}  // namespace tg
