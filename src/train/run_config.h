#pragma once
// A training run's config file:
//   { "data": "data/kjv.h5", "model": {...}, "train": {...} }
// See docs/config.md for every key, its default and its range.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/block.h"
#include "model/model_config.h"
#include "train/adamw.h"

namespace tg {

struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 16;
  double lr = 1e-3;          // peak learning rate
  double min_lr = 1e-4;      // cosine floor (default lr / 10)
  int64_t warmup_steps = 10; // default: 1% of steps, at least 1
  AdamWConfig adamw;
  double grad_clip = 1.0;    // global-norm clip; 0 disables
  uint64_t seed = 0;
  int64_t threads = 0;       // 0: OMP_NUM_THREADS or all cores
  // Activation checkpointing (model/block.h): memory for time, the same numbers.
  Recompute recompute = Recompute::None;
  int64_t log_every = 10;
  int64_t eval_every = 100;  // 0: only at the end
  int64_t eval_batches = 8;  // validation = first eval_batches * batch_size windows of the val split
  int64_t checkpoint_every = 0;  // 0: same as eval_every
  int64_t keep_checkpoints = 0;  // ckpt_<step>.h5 files kept, newest first (0: all); latest.h5 always
  // LR schedule across growth stages. "stage": every stage (a grown checkpoint's
  // training) has its own warmup + cosine over its `steps`; "global": one schedule over
  // global_steps counted from step 0 of the first stage.
  std::string schedule = "stage";
  int64_t global_steps = 0;      // "global" only; 0: steps
  double lr_factor = 0;          // > 0: this stage's peak lr = lr_factor x the previous stage's
  // Non-finite loss or gradient norm: the step is skipped (no update) and counted.
  // After max_bad_steps in a row: "rollback" reloads latest.h5 and multiplies the LR
  // by rollback_lr_factor from then on; "stop" ends the run with an error. A run that
  // diverges again from the point it was rolled back to falls back to older ckpt_*
  // files, and stops with an error after max_rollbacks rollbacks that do not get it
  // past the step where it diverged (train/divergence_guard.h).
  int64_t max_bad_steps = 5;
  std::string on_divergence = "rollback";
  double rollback_lr_factor = 0.5;
  int64_t max_rollbacks = 3;
  // Data parallelism (docs/distributed.md): a step's global batch is batch_size x
  // grad_accum sequences on each of the job's ranks (1 without mpirun). The gradients
  // of its micro-batches are summed in a fixed order within a rank; across ranks by
  // MPI_Allreduce, or with deterministic_reduce in rank order (N ranks then equal one
  // process with grad_accum N to the bit). Every replica_check_every steps (0: never)
  // the ranks compare checksums of their weights.
  int64_t grad_accum = 1;
  bool deterministic_reduce = false;
  int64_t replica_check_every = 100;
  nlohmann::json to_json() const;
};

struct RunConfig {
  std::string data_path;
  ModelConfig model;
  TrainConfig train;
  // The growth options that produced this model (set by `grow`; informational).
  nlohmann::json growth;
  nlohmann::json to_json() const;
};

// Parses and validates; errors name `file` and the key.
RunConfig parse_run_config(const nlohmann::json& json, const std::string& file);

// What one step costs depends on these alone (model/model_cost.h). Planners read them
// before a run's steps are known; parse_run_config checks the rest of the config later.
struct RunShape {
  ModelConfig model;
  int64_t batch_size = 0;
  int64_t grad_accum = 0;
};
RunShape parse_run_shape(const nlohmann::json& json, const std::string& file);
RunConfig load_run_config(const std::string& path);

}  // namespace tg
