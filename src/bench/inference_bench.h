#pragma once
// The inference benchmark behind `tokengrow bench --inference` (docs/bench.md): forward
// passes only (no backward, no optimizer) of one binary/ternary model two ways on the
// same synthetic tokens:
//   training forward: weights quantised from the float master weights in every forward,
//                     the products in float32/bf16 (what `eval --ckpt` runs)
//   packed forward:   levels frozen as int8 once, the products on int8 kernels (what
//                     `eval --packed` runs)
// and the model's file sizes: a weights-only checkpoint and the packed file.
#include <cstdint>
#include <vector>

#include "bench/train_bench.h"
#include "core/engine.h"
#include "train/run_config.h"

namespace tg {

struct InferenceTiming {
  std::vector<double> forward_seconds;  // each timed forward
  double median_forward_s = 0;
  double tokens_per_s = 0;  // batch * seq / median forward
  double loss = 0;          // of the last forward
};

struct InferenceBenchResult {
  int64_t batch = 0, seq = 0, n_params = 0;
  InferenceTiming training, packed;
  bool same_loss = false;  // the two forwards' losses equal bit for bit (they must)
  // Bytes: float32 weights in a checkpoint (4 per parameter), a checkpoint file of the
  // weights alone (no optimizer state; a training checkpoint holds 3x more), the packed
  // file, and in it the packed levels with their scales.
  int64_t checkpoint_weight_bytes = 0, checkpoint_file_bytes = 0, packed_file_bytes = 0, packed_level_bytes = 0;
};

// Builds config.model (binary or ternary weights, else UserError), initialises it from
// options.seed and times options.steps forwards of each kind after options.warmup_steps
// untimed ones, on batch_size x seq_len uniformly random tokens.
InferenceBenchResult run_inference_bench(Engine& engine, const RunConfig& config, const BenchOptions& options);

}  // namespace tg
