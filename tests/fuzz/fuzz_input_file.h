#pragma once
// The loaders take file paths, so each fuzz input is written to a file first (in
// the process's own temporary directory) and loaded from there, exactly as a user's
// file would be.
#include <unistd.h>

#include <fstream>
#include <string>

namespace tg::fuzz {

inline std::string input_file(const std::string& bytes, const char* name) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/tokengrow_fuzz_XXXXXX";
    return std::string(mkdtemp(tmpl));
  }();
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace tg::fuzz
