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
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "core/rng.h"
#include "train/tokenizer.h"
#include "train/tokenizer_training.h"

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

// Bytes of text sampled to train a tokenizer by default (about 10 s for BPE on 2 cores).
inline constexpr int64_t kDefaultTokenizerSampleBytes = 8'000'000;

struct Corpus {
  CorpusInfo info;
  Tokenizer tokenizer;  // info.tokenizer, loaded
  std::vector<int32_t> train, val;
};

struct PrepareOptions {
  double val_fraction = 0.05;  // in [0, 0.5]
  // 0: the last val_fraction of each file is validation. > 0: the last val_fraction
  // of every val_every-byte segment of each file (the last, shorter segment too), so
  // validation samples every part of a long file.
  int64_t val_every = 0;
  // Replace an existing out_path (atomically); without it an existing one is refused,
  // also if another process creates it meanwhile.
  bool overwrite = false;
  int64_t max_tokens = kMaxCorpusTokens;  // a larger input is refused (tests lower it)
  // The tokenizer: bytes (the default); a SentencePiece model brought along
  // (tokenizer.model set); or, with train_tokenizer, one trained on about
  // tokenizer_sample_bytes of lines sampled evenly from the training parts.
  TokenizerSpec tokenizer;
  std::optional<TokenizerTraining> train_tokenizer;
  int64_t tokenizer_sample_bytes = kDefaultTokenizerSampleBytes;
  spdlog::logger* log = nullptr;          // progress lines ("prepare: 20.0 of 44.3 MB read (f.dz)"), if given
};

// Tokenises the files, each a document: in each file (or each val_every segment of
// it) the first part is training, the last val_fraction (floor(bytes *
// val_fraction) bytes) validation, each part encoded on its own. /train is the concatenation of
// every file's training parts in order, /val of its validation parts. A gzip file
// (dictzip, multi-member; told by its magic bytes) is read decompressed
// (core/byte_reader.h); a damaged one is a UserError naming it.
//
// Streamed: inputs are read in 1 MiB pieces, twice for gzip files (once to learn
// their size, before anything is allocated), and written into the datasets piece by
// piece; peak memory is the file built in memory and its copy taken for sealing
// (twice the output, which is the input's size plus ~2 kB) plus ~3 MiB of buffers.
// A SentencePiece tokenizer reads the files once more to sample its training text
// (holding the sample), holds the ids as int32 before writing them (4 bytes a token,
// and tokens are fewer than bytes), and its encoder ~155 bytes per byte of the 8
// pieces of 256 KiB it encodes at a time (about 320 MB).
// Written sealed under a temporary name and renamed, so a failure never leaves a
// half-written corpus or touches an existing one; an out_path that is one of the
// text files is always refused.
CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path,
                          const PrepareOptions& options);
CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path, double val_fraction,
                          bool overwrite = false);

// The split in words, as the val_rule attribute records it.
std::string val_rule_text(double val_fraction, int64_t val_every);

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
