#include "train/evaluate.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/error.h"
#include "data/corpus.h"

namespace tg {

double bits_per_byte(double loss, int64_t tokens, int64_t text_bytes) {
  if (text_bytes <= 0) return std::numeric_limits<double>::quiet_NaN();
  return loss * static_cast<double>(tokens) / (std::log(2.0) * static_cast<double>(text_bytes));
}

double EvalResult::bits_per_byte() const { return tg::bits_per_byte(loss, tokens, text_bytes); }

int64_t eval_window_count(int64_t n_tokens, int64_t seq_len, int64_t max_windows) {
  const int64_t windows = window_count(n_tokens, seq_len);
  return max_windows > 0 ? std::min(windows, max_windows) : windows;
}

int64_t window_target_bytes(const std::vector<int32_t>& tokens, int64_t seq_len, int64_t windows,
                            const std::vector<int32_t>& bytes_per_id) {
  int64_t bytes = 0;
  for (int64_t w = 0; w < windows; ++w)
    for (int64_t i = 1; i <= seq_len; ++i) bytes += bytes_per_id.at(tokens.at(w * (seq_len + 1) + i));
  return bytes;
}

EvalResult evaluate_windows(Engine& engine, LanguageModel& model, const std::vector<int32_t>& tokens,
                            int64_t batch_size, int64_t max_windows, const std::string& what,
                            const std::vector<int32_t>& bytes_per_id) {
  const int64_t seq = model.config().seq_len;
  const int64_t windows = eval_window_count(static_cast<int64_t>(tokens.size()), seq, max_windows);
  if (windows == 0)
    throw UserError(what + ": " + std::to_string(tokens.size()) + " tokens, fewer than one window of seq_len + 1 = " +
                    std::to_string(seq + 1));
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
  r.text_bytes = window_target_bytes(tokens, seq, windows, bytes_per_id);
  return r;
}

}  // namespace tg
