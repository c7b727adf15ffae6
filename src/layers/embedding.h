#pragma once
// Token embedding E: vocab x d. Input side: x_t = E[token_t]. The output side
// (tied weights, logits = h E^T) is a matmul done by the model with the same E.
#include <cstdint>
#include <vector>

#include "core/parameter.h"
#include "core/rng.h"

namespace tg {

class Embedding {
 public:
  Embedding(int64_t vocab, int64_t dim);
  void init(Rng& rng, float std);

  // tokens: rows ids in [0, vocab) -> x: rows x dim. An id outside [0, vocab) is a
  // bug (loaders check ids against the vocabulary): std::out_of_range, not a stray read.
  void forward(const std::vector<int32_t>& tokens, Tensor& x) const;
  // dE[token_t] += dx_t
  void backward(const std::vector<int32_t>& tokens, const Tensor& dx);

  Parameter& table() { return table_; }
  int64_t vocab() const { return table_.value.dim(0); }
  int64_t dim() const { return table_.value.dim(1); }

 private:
  Parameter table_;
};

}  // namespace tg
