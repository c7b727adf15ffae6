#include "core/durable_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

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
}  // namespace

std::string temp_path_for(const std::string& final_path) { return final_path + ".tmp"; }

void discard_file(const std::string& tmp_path) noexcept {
  std::error_code ec;
  fs::remove(tmp_path, ec);
}

void publish_file(const std::string& tmp_path, const std::string& final_path) {
  try {
    fsync_or_throw(tmp_path, O_RDONLY, "file");
    crash_point("publish.before_rename");
    if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0)
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

void write_text_file_durably(const std::string& path, const std::string& text) {
  const std::string tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      discard_file(tmp);
      throw UserError(path + ": cannot write (disk full or no permission?)");
    }
  }
  publish_file(tmp, path);
}

void crash_point(const char* name) {
  static const char* spec = std::getenv("TOKENGROW_CRASH_AT");
  if (!spec || !*spec) return;
  static std::mutex mutex;
  static std::map<std::string, long> hits;
  const std::string s(spec);
  const size_t colon = s.find(':');
  const std::string target = s.substr(0, colon);
  if (target != name) return;
  const long wanted = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
  std::lock_guard<std::mutex> lock(mutex);
  if (++hits[target] == wanted) ::raise(SIGKILL);
}

}  // namespace tg
