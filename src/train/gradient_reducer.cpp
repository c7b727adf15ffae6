#include "train/gradient_reducer.h"

#include <chrono>
#include <cstring>

#include "core/error.h"

namespace tg {

void check_gathered_gradient_bytes(int64_t floats, int ranks) {
  const int64_t gathered = floats * static_cast<int64_t>(sizeof(float)) * ranks;
  if (gathered > kMaxGatheredGradientBytes)
    throw UserError("train.deterministic_reduce: gathering every rank's gradients takes " + std::to_string(gathered >> 20) +
                    " MiB (" + std::to_string(ranks) + " ranks x " + std::to_string(floats) + " floats), more than the " +
                    std::to_string(kMaxGatheredGradientBytes >> 20) + " MiB allowed; set it to false (MPI_Allreduce)");
}

GradientReducer::GradientReducer(std::span<Parameter* const> params, Communicator& comm, bool deterministic)
    : params_(params.begin(), params.end()), comm_(comm), deterministic_(deterministic) {
  size_t n = 0;
  for (const Parameter* p : params_) n += static_cast<size_t>(p->grad.numel());
  if (deterministic_ && comm_.size() > 1) {
    check_gathered_gradient_bytes(static_cast<int64_t>(n), comm_.size());
    gathered_.resize(n * static_cast<size_t>(comm_.size()));
  }
  sum_.resize(n);
}

void GradientReducer::add() {
  float* at = sum_.data();
  for (const Parameter* p : params_) {
    const float* g = p->grad.data();
    const int64_t n = p->grad.numel();
    if (added_ == 0) std::memcpy(at, g, static_cast<size_t>(n) * sizeof(float));
    else
      for (int64_t i = 0; i < n; ++i) at[i] += g[i];
    at += n;
  }
  ++added_;
}

void GradientReducer::reduce(int64_t micro_batches) {
  const auto started = std::chrono::steady_clock::now();
  if (comm_.size() > 1) {
    if (!deterministic_) {
      comm_.allreduce_sum(sum_);
    } else {
      comm_.allgather(std::span<const float>(sum_), std::span<float>(gathered_));
      const size_t n = sum_.size();
      std::memcpy(sum_.data(), gathered_.data(), n * sizeof(float));  // rank 0's
      for (int r = 1; r < comm_.size(); ++r) {
        const float* theirs = gathered_.data() + static_cast<size_t>(r) * n;
        for (size_t i = 0; i < n; ++i) sum_[i] += theirs[i];
      }
    }
  }
  last_reduce_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const float count = static_cast<float>(micro_batches);
  const float* at = sum_.data();
  for (Parameter* p : params_) {
    float* g = p->grad.data();
    const int64_t n = p->grad.numel();
    for (int64_t i = 0; i < n; ++i) g[i] = at[i] / count;
    at += n;
  }
  added_ = 0;
}

double mean_loss_over_ranks(Communicator& comm, double local_loss_sum, int64_t micro_batches) {
  std::vector<double> sums(static_cast<size_t>(comm.size()));
  comm.allgather(std::span<const double>(&local_loss_sum, 1), std::span<double>(sums));
  double total = 0;
  for (const double s : sums) total += s;  // rank order
  return total / static_cast<double>(micro_batches);
}

}  // namespace tg
