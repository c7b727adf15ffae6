#include "core/sealed_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/file_status.h"

namespace tg {

namespace {
const char* const kMagic = "tokengrow sealed file 1";

struct Seal {
  std::string kind;
  int64_t bytes = -1;
  uint32_t crc = 0;
};

// CRC-32 of the file's bytes from `offset` to `end`. Reads in 4 MiB chunks so a
// multi-GB corpus never needs a second copy in memory.
uint32_t crc_of_range(std::ifstream& in, int64_t offset, int64_t end, const std::string& path) {
  std::vector<char> buf(static_cast<size_t>(std::clamp<int64_t>(end - offset, 1, 4 << 20)));
  uLong crc = crc32_z(0L, Z_NULL, 0);
  in.seekg(offset);
  for (int64_t pos = offset; pos < end;) {
    const int64_t want = std::min<int64_t>(static_cast<int64_t>(buf.size()), end - pos);
    in.read(buf.data(), want);
    if (in.gcount() != want) throw UserError(path + ": read error while checking the seal");
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(buf.data()), static_cast<z_size_t>(want));
    pos += want;
  }
  return static_cast<uint32_t>(crc);
}

std::string format_seal(const Seal& s) {
  char text[kSealBytes] = {0};
  std::snprintf(text, sizeof text, "%s\nkind %s\nbytes %lld\ncrc32 %08x\n", kMagic, s.kind.c_str(),
                static_cast<long long>(s.bytes), s.crc);
  return std::string(text, sizeof text);
}

// Parses a header; false if it is not a tokengrow seal in canonical form (so that
// any change to any byte of the header is caught, not only to the file's body).
bool parse_seal(const std::string& header, Seal& s) {
  std::istringstream in(header.substr(0, header.find('\0')));
  std::string magic, key;
  if (!std::getline(in, magic) || magic != kMagic) return false;
  std::string crc_hex;
  if (!(in >> key >> s.kind) || key != "kind") return false;
  if (!(in >> key >> s.bytes) || key != "bytes") return false;
  if (!(in >> key >> crc_hex) || key != "crc32" || crc_hex.size() != 8) return false;
  char* end = nullptr;
  s.crc = static_cast<uint32_t>(std::strtoul(crc_hex.c_str(), &end, 16));
  return end && *end == '\0' && format_seal(s) == header;
}

}  // namespace

std::string seal_header(const std::string& kind, std::string_view body) {
  const uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(body.data()), body.size());
  return format_seal({kind, kSealBytes + static_cast<int64_t>(body.size()), static_cast<uint32_t>(crc)});
}

std::vector<char> build_sealed(const std::string& name, const std::string& kind,
                               const std::function<void(H5File&)>& fill) {
  // Built whole in memory and sealed there: the CRC costs no second read, and the
  // disk write is ours, with its errors.
  std::vector<char> bytes;
  {
    H5File file = H5File::create_in_memory(name, kSealBytes);
    fill(file);
    bytes = file.image(kSealBytes);  // the user block's room, then everything after it
  }
  const std::string header = seal_header(kind, std::string_view(bytes.data() + kSealBytes, bytes.size() - kSealBytes));
  std::copy(header.begin(), header.end(), bytes.begin());
  return bytes;
}

void write_sealed(const std::string& path, const std::string& kind, const std::function<void(H5File&)>& fill,
                  Publish mode) {
  const std::vector<char> bytes = build_sealed(path, kind, fill);
  write_file_durably(path, std::string_view(bytes.data(), bytes.size()), mode);
}

std::string seal_problem(const std::string& path, const std::string& kind) {
  if (std::string problem = regular_file_problem(path); !problem.empty()) return problem;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot open: ") + std::strerror(errno);
  std::error_code ec;
  const int64_t size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  std::string header(kSealBytes, '\0');
  in.read(header.data(), kSealBytes);
  Seal seal;
  if (in.gcount() < kSealBytes || !parse_seal(header, seal)) {
    if (H5File::is_hdf5(path))
      return "an HDF5 file without a tokengrow seal (written by another program, or by a tokengrow "
             "older than the seal); expected a tokengrow " + kind;
    if (size == 0) return "empty file; expected a tokengrow " + kind;
    return "not a tokengrow " + kind + " (no tokengrow seal in its first 512 bytes, and not HDF5)";
  }
  if (seal.kind != kind) return "a tokengrow " + seal.kind + ", not a " + kind;
  if (size < seal.bytes)
    return "truncated: " + std::to_string(size) + " of " + std::to_string(seal.bytes) +
           " bytes (an interrupted copy or a full disk?)";
  if (size > seal.bytes)
    return "has " + std::to_string(size) + " bytes but its seal says " + std::to_string(seal.bytes) +
           " (modified after it was written?)";
  const uint32_t crc = crc_of_range(in, kSealBytes, size, path);
  if (crc != seal.crc) {
    char detail[96];
    std::snprintf(detail, sizeof detail, "crc32 %08x, seal says %08x", crc, seal.crc);
    return std::string("damaged: its contents do not match its checksum (") + detail + ")";
  }
  return "";
}

H5File open_sealed(const std::string& path, const std::string& kind) {
  if (const std::string problem = seal_problem(path, kind); !problem.empty()) throw UserError(path + ": " + problem);
  return H5File::open_read(path);
}

}  // namespace tg
