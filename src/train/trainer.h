#pragma once
// The training loop of one run: config -> model -> steps -> metrics/checkpoints.
//
// A step: sample batch x (seq+1) tokens, forward, backward, clip the global
// gradient norm, AdamW with the stage's warmup+cosine LR. Every log_every steps a
// progress line and a metrics row; every eval_every steps a validation pass; every
// checkpoint_every steps ckpt_<step>.h5 and latest.h5.
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
  int64_t steps = 0;
  double final_train_loss = 0;
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

  // Trains into out_dir (created if needed). With resume, continues from
  // out_dir/latest.h5; without, refuses a directory that already holds a run.
  TrainResult run(const std::string& out_dir, bool resume);

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
};

}  // namespace tg
