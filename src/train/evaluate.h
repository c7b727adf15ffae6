#pragma once
// Mean next-token loss of a model over consecutive non-overlapping windows of
// seq_len + 1 tokens (last partial window dropped); every window contributes its
// seq_len predictions once, so the result is nats per predicted token.
#include <cstdint>
#include <vector>

#include "core/engine.h"
#include "model/language_model.h"

namespace tg {

struct EvalResult {
  double loss = 0;       // nats per token
  int64_t tokens = 0;    // predictions counted
  int64_t windows = 0;
};

// max_windows <= 0 evaluates every window. Throws UserError if there is not one window.
EvalResult evaluate_windows(Engine& engine, LanguageModel& model, const std::vector<int32_t>& tokens,
                            int64_t batch_size, int64_t max_windows, const std::string& what);

}  // namespace tg
