#pragma once
// Token corpora: `tokengrow prepare` writes them, training and eval read them.
//
// File layout (HDF5, sealed: core/sealed_file.h): datasets /train and /val (1-D
// token ids; uint8 for the bytes tokenizer), root attributes format =
// "tokengrow-corpus", format_version = 2 (2: sealed), tokenizer = "bytes",
// vocab_size = 256, sources (JSON list of input files), val_fraction.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "train/tokenizer.h"

namespace tg {

struct CorpusInfo {
  std::string tokenizer;
  int64_t vocab_size = 0;
  int64_t train_tokens = 0;
  int64_t val_tokens = 0;
};

struct Corpus {
  CorpusInfo info;
  std::vector<int32_t> train, val;
};

// Concatenates the files, byte-tokenises, holds out the LAST val_fraction of the
// tokens for validation. Written sealed under a temporary name and renamed, so a
// failure never leaves a half-written corpus or touches an existing one. An
// existing out_path is refused unless `overwrite` (then replaced atomically, and
// without it also refused if another process creates it meanwhile); an out_path
// that is one of the text files is always refused.
CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path, double val_fraction,
                          bool overwrite = false);

// Refuses an unknown tokenizer and token ids outside the corpus's vocabulary.
Corpus load_corpus(const std::string& path);

// A corpus a model can read: made by the tokenizer the model was trained with, its
// ids below the model's vocabulary. UserError naming both files otherwise.
void check_corpus_fits(const CorpusInfo& corpus, const std::string& corpus_path, const std::string& model_tokenizer,
                       int64_t model_vocab, const std::string& model_path);

// Training batches: `batch` windows of seq_len + 1 tokens at uniformly random
// offsets in [0, N - seq_len - 1]; inputs are window[0..seq), targets
// window[1..seq]. The sampler's RNG state is the run's data position (saved in
// checkpoints). It keeps a pointer to the tokens, which must outlive it; a split
// shorter than seq_len + 1 tokens is a UserError.
class BatchSampler {
 public:
  BatchSampler(const std::vector<int32_t>* tokens, int64_t batch, int64_t seq_len, uint64_t seed);
  void next(std::vector<int32_t>& inputs, std::vector<int32_t>& targets);
  std::array<uint64_t, 4> rng_state() const { return rng_.state(); }
  void set_rng_state(const std::array<uint64_t, 4>& s) { rng_.set_state(s); }

 private:
  const std::vector<int32_t>* tokens_;
  int64_t batch_, seq_len_;
  Rng rng_;
};

// Evaluation windows: consecutive, non-overlapping windows of seq_len + 1 tokens;
// the last partial window is dropped. window_batch fills `count` windows starting
// at window `first_window` (std::out_of_range past the last whole window).
int64_t window_count(int64_t n_tokens, int64_t seq_len);
void window_batch(const std::vector<int32_t>& tokens, int64_t seq_len, int64_t first_window, int64_t count,
                  std::vector<int32_t>& inputs, std::vector<int32_t>& targets);

}  // namespace tg
