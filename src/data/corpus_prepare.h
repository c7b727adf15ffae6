#pragma once
// `tokengrow prepare`: text files (plain or gzip) streamed into a sealed corpus file
// (data/corpus.h), split per file into training and validation.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "data/corpus.h"
#include "data/tokenizer_training.h"

namespace tg {

// Bytes of text sampled to train a tokenizer by default (about 10 s for BPE on 2 cores).
inline constexpr int64_t kDefaultTokenizerSampleBytes = 8'000'000;

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

}  // namespace tg
