#pragma once
// Softmax cross-entropy over the vocabulary, averaged over rows:
//   loss = mean_t [ logsumexp(z_t) - z_t[y_t] ]
//   dL/dz_t = (softmax(z_t) - onehot(y_t)) / rows
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace tg {

// Returns the mean loss in nats. If grad is non-null, overwrites logits with
// dL/dlogits (the logits are not needed afterwards, and this saves a rows x vocab buffer).
// One target per row, each in [0, vocab): otherwise std::out_of_range (a bug: loaders
// check ids against the vocabulary), never a read outside the row.
double cross_entropy(Tensor& logits, const std::vector<int32_t>& targets, bool grad);

}  // namespace tg
