#include "layers/embedding.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace tg {

Embedding::Embedding(int64_t vocab, int64_t dim) : table_("embedding", {vocab, dim}, {Axis::Vocab, Axis::Model}, OptimizerGroup::Decay) {}

void Embedding::init(Rng& rng, float std) {
  for (int64_t i = 0; i < table_.value.numel(); ++i) table_.value[i] = std * static_cast<float>(rng.normal());
}

namespace {
void check_ids(const std::vector<int32_t>& tokens, int64_t vocab) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw std::out_of_range("Embedding: token " + std::to_string(tokens[i]) + " at row " + std::to_string(i) +
                              " outside the vocabulary [0, " + std::to_string(vocab) + ")");
}
}  // namespace

void Embedding::forward(const std::vector<int32_t>& tokens, Tensor& x) const {
  check_ids(tokens, vocab());
  const int64_t rows = static_cast<int64_t>(tokens.size()), d = dim();
  x.resize({rows, d});
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(x.data() + r * d, table_.value.data() + static_cast<int64_t>(tokens[r]) * d, sizeof(float) * d);
}

void Embedding::backward(const std::vector<int32_t>& tokens, const Tensor& dx) {
  check_ids(tokens, vocab());
  const int64_t rows = static_cast<int64_t>(tokens.size()), d = dim();
  float* grad = table_.grad.data();
  // Repeated tokens write the same row, so threads split the columns, not the rows:
  // every sum then runs in row order, deterministic for any thread count.
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < d; ++j)
    for (int64_t r = 0; r < rows; ++r) grad[static_cast<int64_t>(tokens[r]) * d + j] += dx[r * d + j];
}

}  // namespace tg
