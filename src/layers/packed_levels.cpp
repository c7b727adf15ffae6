#include "layers/packed_levels.h"

#include <stdexcept>

#include "core/error.h"

namespace tg {

namespace {
constexpr uint8_t kZero = 0, kPlus = 1, kMinus = 2;

uint8_t code_of(int8_t level) {
  switch (level) {
    case 0: return kZero;
    case 1: return kPlus;
    case -1: return kMinus;
  }
  throw std::logic_error("pack_levels: level " + std::to_string(level) + " is not -1, 0 or +1");
}
}  // namespace

std::vector<uint8_t> pack_levels(const int8_t* levels, int64_t count) {
  std::vector<uint8_t> packed(static_cast<size_t>(packed_level_bytes(count)), 0);
  for (int64_t i = 0; i < count; ++i) packed[i / 4] |= static_cast<uint8_t>(code_of(levels[i]) << (2 * (i % 4)));
  return packed;
}

void unpack_levels(const uint8_t* packed, int64_t count, int8_t* levels, const std::string& what) {
  static constexpr int8_t kLevel[3] = {0, 1, -1};
  for (int64_t i = 0; i < count; ++i) {
    const int code = (packed[i / 4] >> (2 * (i % 4))) & 3;
    if (code == 3)
      throw UserError(what + ": level " + std::to_string(i) + " has the unused code 11 (a damaged or foreign file)");
    levels[i] = kLevel[code];
  }
  const int64_t used = count % 4;  // levels in the last byte, 0: it is full
  if (used != 0 && (packed[count / 4] >> (2 * used)) != 0)
    throw UserError(what + ": non-zero padding bits after the last level (a damaged or foreign file)");
}

}  // namespace tg
