#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tg {

AdamW::AdamW(const AdamWConfig& config, const std::vector<Parameter*>& params) : config_(config), params_(params) {
  for (Parameter* p : params_) {
    AdamWState s;
    s.exp_avg = Tensor(p->value.shape());
    s.exp_avg_sq = Tensor(p->value.shape());
    s.row_steps.assign(p->value.ndim() >= 2 ? p->value.dim(0) : 1, 0);
    state_.emplace(p->name, std::move(s));
  }
}

namespace {
// sum g_i^2 in double over fixed chunks of 64K elements, each chunk in 8 interleaved
// lanes (vectorisable without reassociation), chunks added in order: the same bits for
// any thread count.
double sum_of_squares(const float* g, int64_t n) {
  constexpr int64_t chunk = 65536, lanes = 8;
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * chunk, end = std::min(n, begin + chunk);
    double acc[lanes] = {};
    int64_t i = begin;
    for (; i + lanes <= end; i += lanes)
      for (int64_t l = 0; l < lanes; ++l) acc[l] += static_cast<double>(g[i + l]) * g[i + l];
    for (; i < end; ++i) acc[0] += static_cast<double>(g[i]) * g[i];
    double sum = 0;
    for (double a : acc) sum += a;
    partial[c] = sum;
  }
  double total = 0;
  for (double p : partial) total += p;
  return total;
}
}  // namespace

double AdamW::clip_grad_norm(double max_norm) {
  for (Parameter* p : params_) {  // frozen rows neither move nor count in the norm
    const int64_t frozen = frozen_rows_of(*p);
    if (frozen == 0) continue;
    const int64_t rows = static_cast<int64_t>(state_.at(p->name).row_steps.size());
    const int64_t cols = p->grad.numel() / rows;
    std::fill(p->grad.data(), p->grad.data() + std::min(rows, frozen) * cols, 0.0f);
  }
  // Per-parameter sums (sum_of_squares: fixed order), then summed in parameter order.
  double total = 0;
  for (Parameter* p : params_) total += sum_of_squares(p->grad.data(), p->grad.numel());
  const double norm = std::sqrt(total);
  if (max_norm > 0 && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / (norm + 1e-6));
    for (Parameter* p : params_) {
      const int64_t n = p->grad.numel();
      float* g = p->grad.data();
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) g[i] *= scale;
    }
  }
  return norm;
}

int64_t AdamW::frozen_rows_of(const Parameter& p) const {
  if (!frozen_) return 0;
  const auto it = frozen_->find(p.name);
  return it == frozen_->end() ? 0 : it->second;
}

void AdamW::step(double lr) {
  const double b1 = config_.beta1, b2 = config_.beta2;
  for (Parameter* p : params_) {
    AdamWState& s = state_.at(p->name);
    const int64_t rows = static_cast<int64_t>(s.row_steps.size());
    const int64_t cols = p->value.numel() / rows;
    const float decay = p->decays() ? static_cast<float>(1.0 - lr * config_.weight_decay) : 1.0f;
    const int64_t first = std::min(rows, frozen_rows_of(*p));
#pragma omp parallel for schedule(static)
    for (int64_t r = first; r < rows; ++r) {
      const int64_t t = ++s.row_steps[r];
      const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t));
      const double bc2 = 1.0 - std::pow(b2, static_cast<double>(t));
      const float step_size = static_cast<float>(lr / bc1);
      const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
      const float eps = static_cast<float>(config_.eps);
      float* w = p->value.data() + r * cols;
      const float* g = p->grad.data() + r * cols;
      float* m = s.exp_avg.data() + r * cols;
      float* v = s.exp_avg_sq.data() + r * cols;
      for (int64_t j = 0; j < cols; ++j) {
        w[j] *= decay;
        m[j] = static_cast<float>(b1) * m[j] + static_cast<float>(1.0 - b1) * g[j];
        v[j] = static_cast<float>(b2) * v[j] + static_cast<float>(1.0 - b2) * g[j] * g[j];
        w[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_sqrt_bc2 + eps);
      }
    }
  }
}

}  // namespace tg
