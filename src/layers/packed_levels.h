#pragma once
// Ternary (and binary) weight levels packed at 2 bits each, for the packed model file
// (docs/bitnet.md, "Inference: packed ternary weights").
//
// A matrix's levels are packed as one row-major stream of `count` = rows x cols levels:
// level i sits in byte i / 4 at bits 2 (i % 4) .. 2 (i % 4) + 1, coded
//   0 -> 00,  +1 -> 01,  -1 -> 10   (11 is never written; unpacking refuses it)
// The last byte's unused high bits are 0 (unpacking refuses anything else), so every
// stored byte string has exactly one meaning. Binary levels {-1, +1} use the same codes.
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

// Bytes that hold `count` levels: ceil(count / 4).
inline int64_t packed_level_bytes(int64_t count) { return (count + 3) / 4; }

// levels: `count` values in {-1, 0, +1} (std::logic_error otherwise: a caller's bug).
std::vector<uint8_t> pack_levels(const int8_t* levels, int64_t count);

// packed: packed_level_bytes(count) bytes (the caller checks the size); writes `count`
// levels. A code 11 or non-zero padding is a UserError naming `what` (file and dataset).
void unpack_levels(const uint8_t* packed, int64_t count, int8_t* levels, const std::string& what);

}  // namespace tg
