#pragma once
// Seals a fuzz input, so the loader behind the seal check gets to parse it. An input
// that already starts with a seal (the seeds are real files) is resealed: the
// mutations of a real file then arrive with a valid checksum.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/sealed_file.h"

namespace tg::fuzz {

inline std::string sealed(const std::string& kind, const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  if (body.rfind("tokengrow sealed file", 0) == 0 && body.size() >= static_cast<size_t>(kSealBytes))
    body.remove_prefix(kSealBytes);
  return seal_header(kind, body) + std::string(body);
}

// The bytes a fuzz target writes as the file: the input itself, or (in the *_sealed
// builds) the input behind a valid seal.
inline std::string file_bytes(const std::string& kind, const uint8_t* data, size_t size) {
#ifdef TOKENGROW_FUZZ_BEHIND_SEAL
  return sealed(kind, data, size);
#else
  (void)kind;
  return std::string(reinterpret_cast<const char*>(data), size);
#endif
}

}  // namespace tg::fuzz
