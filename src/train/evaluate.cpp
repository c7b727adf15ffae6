#include "train/evaluate.h"

#include "core/error.h"
#include "train/corpus.h"

namespace tg {

EvalResult evaluate_windows(Engine& engine, LanguageModel& model, const std::vector<int32_t>& tokens,
                            int64_t batch_size, int64_t max_windows, const std::string& what) {
  const int64_t seq = model.config().seq_len;
  int64_t windows = window_count(static_cast<int64_t>(tokens.size()), seq);
  if (windows == 0)
    throw UserError(what + ": " + std::to_string(tokens.size()) + " tokens, fewer than one window of seq_len + 1 = " +
                    std::to_string(seq + 1));
  if (max_windows > 0) windows = std::min(windows, max_windows);
  std::vector<int32_t> inputs, targets;
  double total = 0;
  for (int64_t first = 0; first < windows; first += batch_size) {
    const int64_t count = std::min(batch_size, windows - first);
    window_batch(tokens, seq, first, count, inputs, targets);
    // forward() returns the mean over count * seq predictions; weight it back to a sum.
    total += model.forward(engine, inputs, targets, count, seq, false) * static_cast<double>(count * seq);
  }
  EvalResult r;
  r.windows = windows;
  r.tokens = windows * seq;
  r.loss = total / static_cast<double>(r.tokens);
  return r;
}

}  // namespace tg
