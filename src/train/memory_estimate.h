#pragma once
// The memory a training run takes, from its config alone, before anything is allocated;
// and the refusal of a run that does not fit in what the machine has left for it.
//
// What a run holds at its peak (4-byte floats unless said; P parameters; one micro-batch
// of R = batch_size x seq_len rows; d, V, L, H as in the model config):
//   weights and optimizer  16 P: values, gradients and AdamW's two moments (binary and
//                          ternary weights: + their quantised levels), and the engine's
//                          packed copy of the largest weight matrix
//   activations            what one micro-batch's forward keeps for its backward and the
//                          backward's own buffers: per block 15 R d plus attention's
//                          B H T^2 probabilities and each Pattention's two R x n score
//                          matrices (the MLP's three R x hidden; bf16 copies beside them
//                          with precision bf16); every block's with recompute none or
//                          attention (which keeps no T x T probabilities: one 64-row query
//                          block of them, shared), one block's with block; the residual
//                          stream (L + 1) R d and logits R V; the backward buffers all
//                          blocks share (11 R d and the largest score gradient); token
//                          ids. grad_accum does not multiply them:
//                          micro-batches run one at a time in the same buffers, and the
//                          validation batch (batch_size windows) reuses them too.
//   gradient sums          4 P with more than one micro-batch per step (grad_accum or ranks),
//                          + 4 P per rank gathered with deterministic_reduce
//   checkpoint             2 x 12 P: values and both moments built as a file in memory,
//                          and the copy of it that is written
// The corpus (4 bytes a token, loaded before this is checked) and the program itself
// (libraries, oneDNN's buffers: tens of MiB) are not in it.
// Measured against the peak resident memory of real runs: tests/faults/test_memory.cpp.
#include <cstdint>
#include <string>

#include "model/model_config.h"
#include "train/run_config.h"

namespace tg {

struct MemoryEstimate {
  double weights_and_optimizer = 0;  // bytes, as above
  double activations = 0;
  double gradient_sums = 0;
  double checkpoint = 0;
  double total() const { return weights_and_optimizer + activations + gradient_sums + checkpoint; }
};

// A run of this model and train config on `ranks` ranks (each rank holds this much).
MemoryEstimate estimate_train_memory(const ModelConfig& model, const TrainConfig& train, int ranks);

// "1.20 GiB (weights and AdamW 96.0 MiB, activations of a 16 x 128-token micro-batch
// 1.02 GiB, checkpoint in memory 144 MiB)": the total and its parts above zero.
std::string memory_summary(const MemoryEstimate& estimate, const ModelConfig& model, const TrainConfig& train);

// UserError when the estimate exceeds the memory available to this process
// (core/memory_usage.h), naming the keys that set its largest part; `what` names the
// run ("this run", "run r-seed0, stage 1"). Nothing is checked where the available
// memory cannot be read. Under mpirun each rank checks its own need against what is
// available as it starts, so ranks that share a machine are not counted together.
void check_memory_fits(const MemoryEstimate& estimate, const ModelConfig& model, const TrainConfig& train,
                       const std::string& what);

}  // namespace tg
