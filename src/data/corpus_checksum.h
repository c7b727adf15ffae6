#pragma once
// What identifies a corpus's tokens: the CRC-32 (zlib) of the train split's token
// ids followed by the val split's, each id as 4 little-endian bytes, and the two
// split lengths. Every checkpoint records it, so that a run resumed on another
// corpus (or on its corpus file replaced by another) is refused instead of silently
// training on other data. Re-preparing the same text gives the same checksum.
#include <cstdint>
#include <string>

#include "data/corpus.h"

namespace tg {

struct CorpusChecksum {
  uint32_t crc32 = 0;
  int64_t train_tokens = 0;
  int64_t val_tokens = 0;
  bool operator==(const CorpusChecksum&) const = default;
  // "crc32 89abcdef, 54000 train + 6000 val tokens"
  std::string to_string() const;
};

CorpusChecksum corpus_checksum(const Corpus& corpus);

}  // namespace tg
