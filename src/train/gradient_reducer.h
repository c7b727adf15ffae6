#pragma once
// The gradient of a data-parallel step's global batch from its micro-batches
// (train.grad_accum on each of the job's ranks, docs/distributed.md).
//   micro-batch k of rank r: backward leaves g_rk, the gradient of that micro-batch's
//     mean loss, in every Parameter's grad
//   add():    G_r = (((g_r0 + g_r1) + g_r2) + ...), in one flat buffer of all gradients
//   reduce(): G = G_0 + G_1 + ... over ranks (MPI_Allreduce; or, deterministic, every
//     G_r gathered and added in rank order), then grad = G / (micro-batches of all
//     ranks): the gradient of the global batch's mean loss, the same on every rank.
// With one micro-batch per rank and a deterministic reduction, N ranks add exactly what
// one process with grad_accum N adds, in the same order: the same bits.
#include <cstdint>
#include <span>
#include <vector>

#include "core/communicator.h"
#include "core/parameter.h"

namespace tg {

// The most bytes a deterministic reduction gathers (every rank's gradients at once).
constexpr int64_t kMaxGatheredGradientBytes = int64_t{8} << 30;

// UserError unless a deterministic reduction of `floats` gradients over `ranks` ranks
// stays within kMaxGatheredGradientBytes.
void check_gathered_gradient_bytes(int64_t floats, int ranks);

class GradientReducer {
 public:
  // params must outlive this; UserError if a deterministic reduction would gather
  // more than kMaxGatheredGradientBytes.
  GradientReducer(std::span<Parameter* const> params, Communicator& comm, bool deterministic);

  void begin_step() { added_ = 0; }     // before a step's first micro-batch (a skipped step's sums dropped)
  void add();                           // after each micro-batch's backward
  void reduce(int64_t micro_batches);   // micro-batches of all ranks in this step
  int64_t bytes() const { return static_cast<int64_t>(sum_.size() * sizeof(float)); }
  double last_reduce_seconds() const { return last_reduce_s_; }  // the communication alone

 private:
  std::vector<Parameter*> params_;
  Communicator& comm_;
  bool deterministic_;
  std::vector<float> sum_, gathered_;
  int64_t added_ = 0;
  double last_reduce_s_ = 0;
};

// The global batch's mean loss: every rank's sum of its micro-batch losses, added in
// rank order, over the micro-batches of all ranks. Non-finite on every rank if any
// rank's is, so that all skip the step together.
double mean_loss_over_ranks(Communicator& comm, double local_loss_sum, int64_t micro_batches);

}  // namespace tg
