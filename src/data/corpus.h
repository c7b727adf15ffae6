#pragma once
// Token corpora: `tokengrow prepare` writes them, training and eval read them.
//
// File layout (HDF5, sealed: core/sealed_file.h): datasets /train and /val (1-D
// token ids, as the smallest unsigned type that holds vocab_size ids: uint8 for the
// bytes tokenizer, uint16 up to 65536), root attributes format = "tokengrow-corpus",
// format_version = 3 (2: sealed; 3: subword tokenizers), tokenizer ("bytes", "bpe",
// "unigram"), vocab_size, sources (JSON list of input files), val_fraction, val_rule
// (the split in words: "last 0.05 of each file", "last 0.05 of every 1048576-byte
// segment of each file"), train_text_bytes and val_text_bytes (the text each split
// was made from), and for a SentencePiece tokenizer the dataset /tokenizer_model
// (uint8: the serialized model). Versions 1 and 2 (bytes only) still load.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/tokenizer.h"

namespace tg {

inline constexpr const char* kCorpusFormat = "tokengrow-corpus";
inline constexpr int64_t kCorpusFormatVersion = 3;  // 2: sealed (core/sealed_file.h); 3: subword tokenizers
inline constexpr const char* kCorpusSealKind = "corpus";

// The most tokens (train + val) a corpus may hold: loading holds every token as an
// int32 (8 GiB at this limit), and prepare builds the file in memory (about twice
// its size at the peak). Refused before anything is allocated.
inline constexpr int64_t kMaxCorpusTokens = int64_t{1} << 31;

struct CorpusInfo {
  TokenizerSpec tokenizer;
  int64_t vocab_size = 0;
  int64_t train_tokens = 0;
  int64_t val_tokens = 0;
  int64_t train_text_bytes = 0;  // the text the splits were made from (equal to the
  int64_t val_text_bytes = 0;    // token counts for bytes; 0 where a v2 corpus lacks them)
};

struct Corpus {
  CorpusInfo info;
  Tokenizer tokenizer;  // info.tokenizer, loaded
  std::vector<int32_t> train, val;
};

// The vocab_size attribute of a corpus file, read without a pass over its tokens (nor
// the seal's CRC: loading the corpus checks that); 0 when the file is not a corpus.
int64_t read_corpus_vocab_size(const std::string& path);

// Refuses an unknown tokenizer, a tokenizer model that does not load or whose
// vocabulary is not vocab_size, and token ids outside the vocabulary.
Corpus load_corpus(const std::string& path);

// A corpus a model can read: made by the tokenizer the model was trained with, its
// ids below the model's vocabulary. UserError naming both files otherwise.
void check_corpus_fits(const CorpusInfo& corpus, const std::string& corpus_path, const TokenizerSpec& model_tokenizer,
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
  // Moves on by `batches` batches without reading them: what the other ranks of a
  // data-parallel step draw (every rank walks the one stream of sequences).
  void skip(int64_t batches);
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
