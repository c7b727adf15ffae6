#pragma once
// Reading a regular file's bytes front to back in pieces, decompressing it if it is
// gzip. Whether it is gzip is told by its first two bytes (1f 8b), never by its
// name; zlib then reads dictzip files too (.dz: gzip with an extra header field, as
// Debian's dictionaries are stored) and several gzip members one after another, as
// `zcat` does. Every other file is read as it is.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tg {

class ByteReader {
 public:
  // UserError "<path>: <problem>" for a missing, unreadable or not regular file
  // (`what` names its role in the message: "text file").
  ByteReader(const std::string& path, const std::string& what);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  const std::string& path() const { return path_; }
  bool compressed() const { return gz_ != nullptr; }
  // The size on disk: a plain file's byte count, a compressed file's compressed size.
  int64_t file_bytes() const { return file_bytes_; }
  // The next up to `capacity` bytes into `buffer`; 0 at the end. Damaged or
  // truncated gzip data, or a failing read, is a UserError naming the file and what
  // zlib or the OS said.
  size_t read(char* buffer, size_t capacity);

 private:
  [[noreturn]] void fail_gzip();

  std::string path_, what_;
  int fd_ = -1;            // a plain file's descriptor (a gzip file's belongs to gz_)
  gzFile gz_ = nullptr;
  int64_t file_bytes_ = 0;
};

}  // namespace tg
