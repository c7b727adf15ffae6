#include "layers/cross_entropy.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace tg {

double cross_entropy(Tensor& logits, const std::vector<int32_t>& targets, bool grad) {
  const int64_t rows = logits.rows(), V = logits.cols();
  if (static_cast<int64_t>(targets.size()) != rows)
    throw std::out_of_range("cross_entropy: " + std::to_string(targets.size()) + " targets for " +
                            std::to_string(rows) + " rows");
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] < 0 || targets[r] >= V)
      throw std::out_of_range("cross_entropy: target " + std::to_string(targets[r]) + " at row " + std::to_string(r) +
                              " outside the vocabulary [0, " + std::to_string(V) + ")");
  std::vector<double> row_loss(rows);
  const float inv_rows = 1.0f / static_cast<float>(rows);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* z = logits.data() + r * V;
    float mx = z[0];
    for (int64_t j = 1; j < V; ++j) mx = std::max(mx, z[j]);
    double sum = 0;
    for (int64_t j = 0; j < V; ++j) sum += std::exp(static_cast<double>(z[j] - mx));
    const double log_sum = std::log(sum) + mx;
    row_loss[r] = log_sum - z[targets[r]];
    if (grad) {
      for (int64_t j = 0; j < V; ++j) z[j] = static_cast<float>(std::exp(z[j] - log_sum)) * inv_rows;
      z[targets[r]] -= inv_rows;
    }
  }
  double total = 0;
  for (double l : row_loss) total += l;  // fixed order: deterministic
  return total / static_cast<double>(rows);
}

}  // namespace tg
