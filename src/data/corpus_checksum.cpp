#include "data/corpus_checksum.h"

#include <zlib.h>

#include <bit>
#include <cstdio>
#include <vector>

namespace tg {

namespace {
uLong crc_of_tokens(uLong crc, const std::vector<int32_t>& tokens) {
  static_assert(std::endian::native == std::endian::little, "token bytes are hashed as stored in memory");
  // In pieces, since crc32_z takes a z_size_t and corpora may exceed 4 GiB of ids.
  const auto* bytes = reinterpret_cast<const Bytef*>(tokens.data());
  const size_t total = tokens.size() * sizeof(int32_t), piece = size_t{1} << 30;
  for (size_t done = 0; done < total; done += piece)
    crc = crc32_z(crc, bytes + done, static_cast<z_size_t>(std::min(piece, total - done)));
  return crc;
}
}  // namespace

std::string CorpusChecksum::to_string() const {
  char text[96];
  std::snprintf(text, sizeof text, "crc32 %08x, %lld train + %lld val tokens", crc32,
                static_cast<long long>(train_tokens), static_cast<long long>(val_tokens));
  return text;
}

CorpusChecksum corpus_checksum(const Corpus& corpus) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  crc = crc_of_tokens(crc, corpus.train);
  crc = crc_of_tokens(crc, corpus.val);
  return {static_cast<uint32_t>(crc), static_cast<int64_t>(corpus.train.size()), static_cast<int64_t>(corpus.val.size())};
}

}  // namespace tg
