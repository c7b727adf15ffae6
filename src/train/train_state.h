#pragma once
// Where a run is: everything besides the model and optimizer that resuming needs.
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "data/corpus_checksum.h"
#include "data/tokenizer.h"

namespace tg {

struct TrainState {
  int64_t step = 0;        // optimizer steps taken, over all stages
  int64_t stage = 0;       // growth stage (0 for the first model size)
  int64_t stage_start_step = 0;  // step at which the current stage began (its LR schedule's step 0)
  int64_t tokens = 0;      // training tokens consumed
  double flops = 0;        // cumulative training FLOPs (3 x forward, see docs/flops.md)
  double wall_s = 0;       // cumulative training wall time
  double lr_scale = 1;     // product of rollback_lr_factor over rollbacks
  int64_t skipped_steps = 0;  // steps skipped for a non-finite loss or gradient
  int64_t rollbacks = 0;
  double peak_lr = 0;      // peak LR of the current stage (a next stage's lr_factor scales it)
  // Batch sampler state: the data position. Data-parallel ranks all walk one stream
  // of micro-batches (train/step_loop.h), so this one position is every rank's.
  std::array<uint64_t, 4> data_rng{};
  // The ranks and micro-batches per rank that took the steps (1, 1 in checkpoints
  // before data parallelism): their product is the global batch in micro-batches.
  int64_t world_size = 1;
  int64_t grad_accum = 1;
  // Training losses since the last log row (the row's train_loss is their mean), so
  // a run resumed between two log points logs exactly what the uninterrupted run does.
  double log_loss_sum = 0;
  int64_t log_loss_count = 0;
  // The run's metrics rows reach this step at least: the last was logged
  // log_loss_count steps ago (a new stage's first row, logged where the stage starts,
  // can be later).
  int64_t logged_through_step() const { return step - log_loss_count; }
  // The tokens the run trains on; absent in checkpoints of tokengrow before it was recorded.
  std::optional<CorpusChecksum> corpus;
  // The tokenizer of the corpus the model is trained on (data/tokenizer.h), so text
  // given to eval and sample is tokenized the same way; the trainer sets it from the
  // corpus. Its vocabulary size is recorded for readers outside tokengrow.
  TokenizerSpec tokenizer;
  int64_t tokenizer_vocab_size = 256;
  // Frozen rows after a growth (growth options train_old, freeze_steps): the first
  // frozen_rows[name] rows of each named parameter take no update (nor weight decay,
  // moments or step count) while step < freeze_until_step.
  std::map<std::string, int64_t> frozen_rows;
  int64_t freeze_until_step = 0;
  static constexpr int64_t kFrozenForGood = std::numeric_limits<int64_t>::max();
  bool frozen_now() const { return step < freeze_until_step && !frozen_rows.empty(); }
};

}  // namespace tg
