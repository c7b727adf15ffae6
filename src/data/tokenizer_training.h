#pragma once
// Training a SentencePiece tokenizer (BPE or unigram) for `tokengrow prepare`.
//
// The settings keep the text's bytes intact, so that decode(encode(text)) == text
// and bits per byte are exact (docs/tokenizers.md): identity normalisation, no
// dummy prefix, whitespace kept as it is, byte fallback (a byte no piece covers
// becomes one of 256 byte pieces, so there is no unknown token), "\n" a piece of its
// own, every character kept (character_coverage 1), no BOS/EOS/padding ids.
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace tg {

struct TokenizerTraining {
  std::string kind = "bpe";  // "bpe" or "unigram"
  int64_t vocab_size = 0;    // in [kMinSentencePieceVocab, kMaxVocabSize]
  int threads = 2;
};

// 256 byte pieces, "\n", the unknown piece, and room for a few merges.
inline constexpr int64_t kMinSentencePieceVocab = 260;

// Trains on `lines` (each one sentence to SentencePiece, without its "\n"; lines
// longer than 65536 bytes are cut). UserError for a bad kind or vocabulary size,
// or when SentencePiece refuses (a vocabulary larger than the text supports).
TokenizerSpec train_tokenizer(const std::vector<std::string>& lines, const TokenizerTraining& training);

}  // namespace tg
