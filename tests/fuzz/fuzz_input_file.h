#pragma once
// The loaders take file paths, so each fuzz input is written to a file first (in
// the process's own temporary directory) and loaded from there, exactly as a user's
// file would be.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

namespace tg::fuzz {

inline std::string input_file(const uint8_t* data, size_t size, const char* name) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/tokengrow_fuzz_XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  return path;
}

}  // namespace tg::fuzz
