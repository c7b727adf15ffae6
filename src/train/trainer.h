#pragma once
// The training loop of one run: config -> model -> steps -> metrics/checkpoints.
//
// A step: sample batch x (seq+1) tokens, forward, backward, clip the global
// gradient norm, AdamW with the stage's warmup+cosine LR. Every log_every steps a
// progress line and a metrics row; every eval_every steps a validation pass; every
// checkpoint_every steps ckpt_<step>.h5 and latest.h5.
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <string>

#include "core/engine.h"
#include "model/language_model.h"
#include "train/adamw.h"
#include "train/corpus.h"
#include "train/run_config.h"
#include "train/train_state.h"

namespace tg {

struct TrainResult {
  bool interrupted = false;  // stopped by the stop hook before the end
  int64_t steps = 0;
  // Loss of the last step this call took; NaN when it took none (resuming a finished run).
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  double final_val_loss = 0;
  double first_val_loss = 0;  // validation loss before the first step (step 0)
  int64_t tokens = 0;
  double flops = 0;
  double wall_s = 0;
};

class Trainer {
 public:
  // Reads the corpus named by the config and checks it fits the model.
  Trainer(const RunConfig& config, Engine& engine, std::ostream& out);

  // Trains into out_dir (created if needed).
  //   start_checkpoint empty: a fresh run; out_dir must not hold one.
  //   start_checkpoint = out_dir/latest.h5: resume; metrics rows after its step are dropped.
  //   any other checkpoint (e.g. a grown model): a new stage in a fresh out_dir, with
  //   step, tokens and FLOPs continuing from the checkpoint.
  // The model in the config must be the checkpoint's.
  TrainResult run(const std::string& out_dir, const std::string& start_checkpoint = "");

  // Called after every step; returning true stops the run there without a final
  // checkpoint, as a kill would (used to test and exercise resumption).
  void set_stop_hook(std::function<bool()> hook) { stop_hook_ = std::move(hook); }
  // Called before every forward pass with the step about to be taken (tests use it
  // to inject faults such as a NaN parameter).
  void set_step_hook(std::function<void(int64_t, LanguageModel&)> hook) { step_hook_ = std::move(hook); }

  LanguageModel& model() { return *model_; }

 private:
  double validate();

  RunConfig config_;
  Engine& engine_;
  std::ostream& out_;
  Corpus corpus_;
  std::unique_ptr<LanguageModel> model_;
  std::unique_ptr<AdamW> optimizer_;
  TrainState state_;
  std::function<bool()> stop_hook_;
  std::function<void(int64_t, LanguageModel&)> step_hook_;
};

}  // namespace tg
