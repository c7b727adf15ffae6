#include "core/byte_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "core/error.h"
#include "core/file_status.h"

namespace tg {

namespace {
// gzip's magic bytes (RFC 1952), which dictzip files share.
bool starts_with_gzip_magic(int fd) {
  unsigned char magic[2] = {0, 0};
  ssize_t n;
  do n = ::pread(fd, magic, sizeof magic, 0);
  while (n < 0 && errno == EINTR);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}
}  // namespace

ByteReader::ByteReader(const std::string& path, const std::string& what) : path_(path), what_(what) {
  fd_ = open_regular_file(path, what);
  struct stat st {};
  if (::fstat(fd_, &st) == 0) file_bytes_ = static_cast<int64_t>(st.st_size);
  if (!starts_with_gzip_magic(fd_)) return;
  gz_ = gzdopen(fd_, "rb");  // owns fd_ from here on (gzclose closes it)
  if (gz_ == nullptr) {
    ::close(fd_);
    throw UserError(path_ + ": cannot open the gzip " + what_ + " (out of memory?)");
  }
  fd_ = -1;
  gzbuffer(gz_, 1 << 17);
}

ByteReader::~ByteReader() {
  if (gz_ != nullptr) gzclose(gz_);
  if (fd_ >= 0) ::close(fd_);
}

void ByteReader::fail_gzip() {
  int code = Z_OK;
  const char* message = gzerror(gz_, &code);
  if (code == Z_ERRNO)
    throw UserError(path_ + ": cannot read " + what_ + ": " + std::strerror(errno));
  throw UserError(path_ + ": damaged or truncated gzip data (zlib: " + std::string(message ? message : "unknown error") +
                  ")");
}

size_t ByteReader::read(char* buffer, size_t capacity) {
  const size_t want = std::min<size_t>(capacity, INT_MAX);
  if (gz_ != nullptr) {
    const int n = gzread(gz_, buffer, static_cast<unsigned>(want));
    if (n < 0) fail_gzip();
    // A short read at the end may hide an error: a stream cut off mid-member
    // (Z_BUF_ERROR) ends like a file, and only gzerror tells them apart.
    int code = Z_OK;
    gzerror(gz_, &code);
    if (code != Z_OK) fail_gzip();
    return static_cast<size_t>(n);
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, want);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) throw UserError(path_ + ": cannot read " + what_ + ": " + std::strerror(errno));
  }
}

}  // namespace tg
