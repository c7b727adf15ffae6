#pragma once
// A run's checkpoints: every checkpoint is written as ckpt_<step>.h5 and published
// as latest.h5 too (what a resume or a rollback continues from): serialised and
// written once, latest.h5 a hard link to the same file; of the ckpt_* files the
// newest train.keep_checkpoints are kept (0: all), those of earlier, resumed
// invocations included. Each file is sealed and published atomically
// (train/checkpoint.h).
#include <cstdint>

#include <nlohmann/json.hpp>

#include "model/language_model.h"
#include "train/adamw.h"
#include "train/run_directory.h"
#include "train/train_state.h"

namespace tg {

class Checkpointer {
 public:
  // `config` is the run config stored in every checkpoint; dir must outlive this.
  Checkpointer(const RunDirectory& dir, nlohmann::json config, int64_t keep_checkpoints);

  // latest.h5 alone: a stage's starting point, so that a kill or a divergence in its
  // first steps resumes or rolls back without redoing the stage's setup.
  void save_latest(LanguageModel& model, AdamW& optimizer, const TrainState& state) const;
  // ckpt_<step>.h5 and latest.h5, then the ckpt_* files beyond the newest keep removed.
  void save(LanguageModel& model, AdamW& optimizer, const TrainState& state) const;

 private:
  void remove_old_checkpoints() const;

  const RunDirectory& dir_;
  nlohmann::json config_;
  int64_t keep_;
};

}  // namespace tg
