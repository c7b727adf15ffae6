#pragma once
// The training of one run directory: config -> model -> steps -> metrics/checkpoints.
//
// Trainer::run starts the run in its directory (train/run_directory.h: fresh,
// resumed or a new stage), initialises or loads the model, validates and
// checkpoints a new stage's starting point, then hands over to the step loop
// (train/step_loop.h: the step, the divergence guard, logging and checkpoints).
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/engine.h"
#include "model/language_model.h"
#include "train/adamw.h"
#include "train/memory_estimate.h"
#include "data/corpus.h"
#include "data/corpus_checksum.h"
#include "train/run_config.h"
#include "train/run_directory.h"
#include "train/step_loop.h"
#include "train/train_state.h"

namespace tg {

struct TrainResult {
  bool interrupted = false;  // stopped by the stop hook before the end
  int64_t steps = 0;
  // Loss of the last step this call took; NaN when it took none (resuming a finished run).
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  // The last validation loss (one is run at the end if this call ran none); NaN
  // when the run was stopped before any.
  double final_val_loss = std::numeric_limits<double>::quiet_NaN();
  double final_val_bpb = std::numeric_limits<double>::quiet_NaN();  // the same in bits per byte
  // Validation loss at a new stage's start (step 0, or after growth); NaN on resume.
  double first_val_loss = std::numeric_limits<double>::quiet_NaN();
  int64_t tokens = 0;
  double flops = 0;
  double wall_s = 0;
};

class Trainer {
 public:
  // Reads the corpus named by the config and checks it fits the model. Progress,
  // warnings and debug lines go to `log` (core/log.h). With a communicator of several
  // ranks the run is data-parallel (docs/distributed.md): every rank constructs a
  // Trainer and calls run() alike; rank 0 alone locks the directory and writes.
  Trainer(const RunConfig& config, Engine& engine, spdlog::logger& log);
  Trainer(const RunConfig& config, Engine& engine, spdlog::logger& log, Communicator& comm);
  Trainer(const Trainer&) = delete;  // comm_ may refer to this object's own solo_
  Trainer& operator=(const Trainer&) = delete;

  // Trains into out_dir (created if needed). Once the directory is locked, every line
  // `log` gets also goes to out_dir/train.log for as long as `log` lives (so that a
  // command's last line, its summary or its error, is there too); one run's at a time.
  //   start_checkpoint empty: a fresh run; out_dir must not hold one.
  //   start_checkpoint = out_dir's resume_point() (latest.h5, or without it the newest
  //   sound ckpt_<step>.h5): resume; metrics rows after its step are dropped, and a
  //   log that lacks rows up to it is refused (MetricsLog::resume_at).
  //   any other checkpoint (e.g. a grown model): a new stage in a fresh out_dir, with
  //   step, tokens and FLOPs continuing from the checkpoint.
  // The model in the config must be the checkpoint's.
  TrainResult run(const std::string& out_dir, const std::string& start_checkpoint = "");

  // Called after every step; returning true stops the run there without a final
  // checkpoint, as a kill would (used to test and exercise resumption).
  void set_stop_hook(std::function<bool()> hook) { hooks_.stop = std::move(hook); }
  // Called before every forward pass with the step about to be taken (tests use it
  // to inject faults such as a NaN parameter).
  void set_step_hook(std::function<void(int64_t, LanguageModel&)> hook) { hooks_.before_step = std::move(hook); }
  // Called after backward, before clipping: where a gradient all-reduce goes
  // (GradientHook in train/step_loop.h). None by default.
  void set_gradient_hook(GradientHook hook) { hooks_.gradients = std::move(hook); }

  LanguageModel& model() { return *model_; }

 private:
  double validate();
  // Rank 0 decides how the run starts (RunDirectory::prepare_start) and tells the rest.
  RunStart agree_on_start(std::optional<RunDirectory>& dir, const std::string& out_dir,
                          const std::string& start_checkpoint);
  // Initialises or loads the model and state_ for this start; returns the batch
  // sampler at the run's data position. Every rank must then hold the same.
  BatchSampler start_model(RunStart start, const std::string& checkpoint);
  void check_ranks_start_alike();
  // A resume under another ranks x grad_accum than the checkpoint's: says what changes.
  void note_batch_change() const;
  // A resumed run must train on the corpus its checkpoint recorded (UserError if not).
  void check_corpus(const std::string& checkpoint);
  // The step loop; metrics.h5 written from the journal when it ends, also by an error.
  StepLoopResult train_steps(const StepLoopParts& parts, const StageSchedule& schedule, MetricsLog* metrics);
  // A new stage's starting point: validated, and on rank 0 logged and checkpointed (latest.h5).
  double begin_stage(MetricsLog* metrics, const Checkpointer* checkpointer, const StageSchedule& schedule);
  // "model: ..." (size, FLOPs per step, threads) and "memory: ..." (memory_estimate.h).
  void print_model_line();

  RunConfig config_;
  Engine& engine_;
  spdlog::logger& log_;
  Corpus corpus_;
  CorpusChecksum corpus_checksum_;  // of corpus_
  double val_bpb_per_nat_ = 0;      // val_bpb = val_loss * this (StepLoopParts)
  MemoryEstimate memory_;           // checked against the available memory before the model is built
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<AdamW> optimizer_;
  TrainState state_;
  StepHooks hooks_;
  SoloCommunicator solo_;  // the communicator of a Trainer made without one
  Communicator& comm_;
};

}  // namespace tg
