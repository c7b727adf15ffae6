#pragma once
// Why a path cannot be read as a data file, in the words every loader uses.
#include <filesystem>
#include <string>

namespace tg {

// "" for an existing regular file, else "no such file", "is a directory, not a
// file" or "not a regular file".
inline std::string regular_file_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return "no such file";
  if (fs::is_directory(status)) return "is a directory, not a file";
  if (!fs::is_regular_file(status)) return "not a regular file";
  return "";
}

}  // namespace tg
