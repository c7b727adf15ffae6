#pragma once
// The training steps of one stage, from the state's step to the stage's end. A step:
//   for each of grad_accum micro-batches: sample batch x (seq + 1) tokens -> forward
//   -> backward; the gradients summed over micro-batches and ranks (GradientReducer)
//   -> gradient hook -> clip the global gradient norm -> AdamW at the stage's LR x
//   state.lr_scale
// then, on the stage's grid (StageSchedule), a progress line and a metrics row, a
// validation, and a checkpoint (rank 0 alone writes), and every replica_check_every
// steps a comparison of the ranks' weights. A non-finite loss or gradient norm skips the update
// and may roll the run back (DivergenceGuard).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/engine.h"
#include "core/parameter.h"
#include "model/language_model.h"
#include "model/model_cost.h"
#include "train/adamw.h"
#include "train/checkpointer.h"
#include "data/corpus.h"
#include "train/divergence_guard.h"
#include "train/gradient_reducer.h"
#include "train/metrics_log.h"
#include "train/progress_meter.h"
#include "train/run_config.h"
#include "train/run_directory.h"
#include "train/stage_schedule.h"
#include "train/train_state.h"

namespace tg {

// The gradient hook: called in every step after the backward passes and the
// reduction over micro-batches and ranks, before clipping, with every trainable
// parameter, whose .grad then holds the gradient of the global batch's mean loss
// (tests change it there). It is not called for a step whose loss is not finite on
// some rank (that step is skipped on every rank).
using GradientHook = std::function<void(std::span<Parameter* const> params)>;

struct StepHooks {
  // Before each forward pass, with the step about to be taken (1-based) and the model
  // (tests inject faults through it).
  std::function<void(int64_t, LanguageModel&)> before_step;
  GradientHook gradients;
  // After each step but the last: true stops the loop there, as a kill would.
  std::function<bool()> stop;
};

// What a loop trains and writes to; owned by the caller, alive while the loop runs.
struct StepLoopParts {
  Engine& engine;
  LanguageModel& model;
  AdamW& optimizer;
  BatchSampler& sampler;
  TrainState& state;
  MetricsLog* metrics;               // null on ranks other than 0, which write nothing
  const Checkpointer* checkpointer;  // null likewise
  const RunDirectory& dir;
  Communicator& comm;
  spdlog::logger& log;
  std::function<double()> validate;  // the validation loss of the model as it is
  // val_bpb = val_loss * this: the validation windows are the same tokens every time,
  // so their bytes are a constant of the run (train/evaluate.h).
  double val_bpb_per_nat;
};

struct StepLoopResult {
  bool interrupted = false;  // stopped by the stop hook before the end
  double last_train_loss = std::numeric_limits<double>::quiet_NaN();  // of the last log row
  std::optional<double> last_val_loss;  // of the last validation, if one ran
};

// The metrics row of the state as it is, with the row's losses and LR.
MetricsRow metrics_row(const TrainState& state, int64_t n_params, double train_loss, double val_loss, double lr,
                       double val_bpb_per_nat);

class StepLoop {
 public:
  StepLoop(const StepLoopParts& parts, const TrainConfig& config, const StageSchedule& schedule,
           const StepHooks& hooks);
  StepLoopResult run();

 private:
  struct StepOutcome {
    double loss = 0;
    double grad_norm = 0;
    bool finite() const { return std::isfinite(loss) && std::isfinite(grad_norm); }
  };
  StepOutcome forward_backward();
  double micro_batches(int64_t count);  // forward and backward of each; their loss sum
  void take_step(double loss, double lr, std::chrono::steady_clock::time_point started);
  void log_point(double lr, bool validate, StepLoopResult& result);
  void roll_back();

  StepLoopParts p_;
  const TrainConfig& config_;
  const StageSchedule& schedule_;
  const StepHooks& hooks_;
  StepCost cost_;  // of one global step: grad_accum x ranks micro-batches
  DivergenceGuard guard_;
  ProgressMeter progress_;
  int64_t n_params_;
  std::optional<GradientReducer> reducer_;  // absent for one micro-batch in one process
  std::vector<int32_t> inputs_, targets_;
};

}  // namespace tg
