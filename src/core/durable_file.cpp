#include "core/durable_file.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/crash_point.h"
#include "core/error.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
void fsync_or_throw(const std::string& path, int flags, const std::string& what) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw UserError(path + ": cannot open to sync " + what + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw UserError(path + ": fsync failed (" + std::strerror(err) + "); the data may not be on disk");
}

// A temporary name: "<final>.<kTempRandomChars of kTempChars>.tmp".
const std::string_view kTempSuffix = ".tmp";
const std::string_view kTempChars = "abcdefghijklmnopqrstuvwxyz0123456789";
const size_t kTempRandomChars = 6;
const size_t kTempTailChars = 1 + kTempRandomChars + kTempSuffix.size();  // ".<random>.tmp"

// A temporary name for `final_path` that is unlikely to be anyone else's.
std::string random_temp_name(const std::string& final_path) {
  std::random_device entropy;
  std::uniform_int_distribution<size_t> pick(0, kTempChars.size() - 1);
  std::string name = final_path + ".";
  for (size_t i = 0; i < kTempRandomChars; ++i) name += kTempChars[pick(entropy)];
  return name.append(kTempSuffix);
}

// The final file name of a temporary file's name, or "" if `name` is not one.
std::string_view final_name_of(std::string_view name) {
  if (name.size() <= kTempTailChars || !name.ends_with(kTempSuffix)) return "";
  const std::string_view tail = name.substr(name.size() - kTempTailChars);
  const std::string_view random = tail.substr(1, kTempRandomChars);
  if (tail[0] != '.' || random.find_first_not_of(kTempChars) != std::string_view::npos) return "";
  return name.substr(0, name.size() - kTempTailChars);
}

// The regular files of `dir` (not below it) that are temporary files of durable
// writes whose final name passes `wanted`.
template <typename Wanted>
std::vector<std::string> temp_files_in(const fs::path& dir, Wanted wanted) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string_view final_name = final_name_of(name);
    if (!final_name.empty() && entry.is_regular_file(ec) && wanted(final_name)) found.push_back(entry.path().string());
  }
  return found;
}

// Creates a temporary file for `final_path` that no other writer can have: a random
// name, opened with O_EXCL (retried on the rare collision). Returns the open fd.
int create_temp_file(const std::string& final_path, std::string& tmp_path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    tmp_path = random_temp_name(final_path);
    const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

[[noreturn]] void refuse_existing(const std::string& final_path) {
  throw UserError(final_path + ": already exists (written by another process meanwhile?); not replaced");
}

// rename(2) that fails with EEXIST instead of replacing. RENAME_NOREPLACE where the
// file system has it, else link(2) (which never replaces either) and unlink.
void rename_exclusive(const std::string& tmp_path, const std::string& final_path) {
  if (::renameat2(AT_FDCWD, tmp_path.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno == EEXIST) refuse_existing(final_path);
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
    throw UserError(final_path + ": cannot publish the new file: " + std::strerror(errno));
  if (::link(tmp_path.c_str(), final_path.c_str()) != 0) {
    if (errno == EEXIST) refuse_existing(final_path);
    throw UserError(final_path + ": cannot publish the new file: " + std::strerror(errno));
  }
  ::unlink(tmp_path.c_str());
}
}  // namespace

std::vector<std::string> temp_files_of(const std::string& final_path) {
  const fs::path final(final_path);
  const std::string final_name = final.filename().string();
  const fs::path dir = final.parent_path().empty() ? fs::path(".") : final.parent_path();
  return temp_files_in(dir, [&](std::string_view name) { return name == final_name; });
}

std::vector<std::string> remove_temp_files_in(const std::string& dir) {
  std::vector<std::string> removed;
  for (const std::string& path : temp_files_in(dir, [](std::string_view) { return true; })) {
    std::error_code ec;
    if (fs::remove(path, ec)) removed.push_back(path);
  }
  return removed;
}

void discard_file(const std::string& tmp_path) noexcept {
  std::error_code ec;
  fs::remove(tmp_path, ec);
}

void publish_file(const std::string& tmp_path, const std::string& final_path, Publish mode) {
  try {
    fsync_or_throw(tmp_path, O_RDONLY, "file");
    crash_point("publish.before_rename");
    if (mode == Publish::Exclusive) rename_exclusive(tmp_path, final_path);
    else if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
      throw UserError(final_path + ": cannot replace with the new file: " + std::strerror(errno));
  } catch (...) {
    discard_file(tmp_path);
    throw;
  }
  crash_point("publish.after_rename");
  fs::path dir = fs::path(final_path).parent_path();
  if (dir.empty()) dir = ".";
  fsync_or_throw(dir.string(), O_RDONLY | O_DIRECTORY, "directory");
}

void write_file_durably(const std::string& path, std::string_view bytes, Publish mode) {
  std::string tmp;
  const int fd = create_temp_file(path, tmp);
  if (fd < 0) throw UserError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    discard_file(tmp);
    throw UserError(path + ": " + what + ": " + reason + " (disk full?); the previous file, if any, is untouched");
  };
  // Two halves, so the fault tests can kill the process with a half-written file.
  const size_t half = bytes.size() / 2;
  for (const auto& [from, to] : {std::pair<size_t, size_t>{0, half}, {half, bytes.size()}}) {
    if (from == half) crash_point("write.half_written");
    for (size_t done = from; done < to;) {
      const ssize_t n = ::write(fd, bytes.data() + done, std::min<size_t>(to - done, size_t{1} << 26));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write");
      done += static_cast<size_t>(n);
    }
  }
  if (::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    discard_file(tmp);
    throw UserError(path + ": cannot write: " + reason + " (disk full?); the previous file, if any, is untouched");
  }
  publish_file(tmp, path, mode);
}

void write_json_durably(const std::string& path, const nlohmann::json& json) {
  write_file_durably(path, json.dump(2) + "\n");
}

bool link_file_durably(const std::string& existing, const std::string& path) {
  // A second name of our own for the file (link(2) fails on an existing name, as
  // O_EXCL does), then renamed into place.
  std::string tmp;
  int rc = -1;
  for (int attempt = 0; attempt < 100 && rc != 0; ++attempt) {
    tmp = random_temp_name(path);
    rc = ::link(existing.c_str(), tmp.c_str());
    if (rc != 0 && errno != EEXIST) break;
  }
  if (rc != 0) {
    if (errno == EPERM || errno == EXDEV || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EMLINK) return false;
    throw UserError(path + ": cannot link to " + existing + ": " + std::strerror(errno));
  }
  publish_file(tmp, path);
  discard_file(tmp);  // rename leaves both names when they were already one file
  return true;
}

void remove_file_durably(const std::string& path) {
  std::error_code ec;
  if (!fs::remove(path, ec)) {
    if (ec) throw UserError(path + ": cannot remove: " + ec.message());
    return;
  }
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  fsync_or_throw(dir.string(), O_RDONLY | O_DIRECTORY, "directory");
}

}  // namespace tg
