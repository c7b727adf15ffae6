#pragma once
// FLOP and parameter counts of a model as pure functions of its config (docs/flops.md):
// no model is built. 2 FLOPs per multiply-add of every matmul; norms, softmax, GELU, the
// embedding lookup and the optimizer are not counted.
//
// Two FLOP counts of one forward pass over batch x seq tokens:
//   model FLOPs     attention's two T x T products (q k^T and P v) over the whole T x T,
//                   as is usual: the accounting unit of training budgets (`flops` in
//                   metrics.h5, experiments' FLOP budgets).
//   executed FLOPs  what the matmuls run: attention computes only the blocks on or below
//                   the diagonal (layers/attention.h), so the blocks above it are left
//                   out. The basis of achieved GFLOP/s and MFU in `tokengrow bench`.
// Everything else is the same in both. A training step costs 3x either: each forward
// matmul has two backward matmuls of the same size (for attention's blocks too); step_cost
// is that rule, the one place it is written.
#include <cstdint>

#include "model/model_config.h"

namespace tg {

double forward_model_flops(const ModelConfig& config, int64_t batch, int64_t seq);
double forward_executed_flops(const ModelConfig& config, int64_t batch, int64_t seq);

// Parameters of the model the config builds (every weight, norm and embedding entry).
int64_t n_params(const ModelConfig& config);

// One global training step: `micro_batches` = grad_accum x ranks micro-batches of
// batch x seq tokens (seq = the model's seq_len), each a forward and a backward:
//   tokens         = batch x seq x micro_batches
//   model_flops    = 3 x forward_model_flops(batch, seq) x micro_batches
//   executed_flops = 3 x forward_executed_flops(batch, seq) x micro_batches
struct StepCost {
  int64_t micro_batches = 0;
  int64_t tokens = 0;
  double model_flops = 0;
  double executed_flops = 0;
};
StepCost step_cost(const ModelConfig& config, int64_t batch, int64_t grad_accum, int64_t ranks);

}  // namespace tg
