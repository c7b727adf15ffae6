#pragma once
// Mean next-token loss of a model over consecutive non-overlapping windows of
// seq_len + 1 tokens (last partial window dropped); every window contributes its
// seq_len predictions once, so the result is nats per predicted token.
//
// Bits per byte put every tokenizer on one scale: the nats of all predictions,
// over ln 2 times the bytes of text their target tokens spell,
//   bpb = sum(nats) / (ln 2 * sum(bytes(target)))  =  loss * tokens / (ln 2 * text_bytes)
// (docs/tokenizers.md); for the bytes tokenizer bytes = tokens and bpb = loss / ln 2.
#include <cstdint>
#include <string>
#include <vector>

#include "core/engine.h"
#include "model/language_model.h"

namespace tg {

struct EvalResult {
  double loss = 0;         // nats per token
  int64_t tokens = 0;      // predictions counted
  int64_t windows = 0;
  int64_t text_bytes = 0;  // bytes of text the predicted tokens spell
  double bits_per_byte() const;  // NaN when text_bytes is 0
};

// The windows an evaluation takes: every whole one, or at most max_windows (> 0).
int64_t eval_window_count(int64_t n_tokens, int64_t seq_len, int64_t max_windows);

// Bytes of text the targets of the first `windows` windows spell
// (bytes_per_id: Tokenizer::bytes_per_id(); ids beyond it are std::out_of_range).
int64_t window_target_bytes(const std::vector<int32_t>& tokens, int64_t seq_len, int64_t windows,
                            const std::vector<int32_t>& bytes_per_id);

// bits per byte from a mean loss: loss * tokens / (ln 2 * text_bytes); NaN for 0 bytes.
double bits_per_byte(double loss, int64_t tokens, int64_t text_bytes);

// max_windows <= 0 evaluates every window. Throws UserError if there is not one window.
EvalResult evaluate_windows(Engine& engine, LanguageModel& model, const std::vector<int32_t>& tokens,
                            int64_t batch_size, int64_t max_windows, const std::string& what,
                            const std::vector<int32_t>& bytes_per_id);

}  // namespace tg
