#pragma once
// gzip files made by the tests through zlib: several members (as `cat a.gz b.gz`
// makes), and a member with an extra header field, as dictzip (.dz) files have.
#include <zlib.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace tg::testing {

// `path` as one gzip member per part, written with gzopen/gzwrite (mode "ab" after
// the first part appends a new member).
inline void write_gzip_members(const std::string& path, const std::vector<std::string>& parts) {
  for (size_t i = 0; i < parts.size(); ++i) {
    gzFile gz = gzopen(path.c_str(), i == 0 ? "wb" : "ab");
    if (gz == nullptr) throw std::runtime_error("gzopen " + path);
    if (!parts[i].empty() && gzwrite(gz, parts[i].data(), static_cast<unsigned>(parts[i].size())) <= 0)
      throw std::runtime_error("gzwrite " + path);
    if (gzclose(gz) != Z_OK) throw std::runtime_error("gzclose " + path);
  }
}

// One gzip member of `text` whose header carries an FEXTRA field with dictzip's "RA"
// subfield (contents only shaped like dictzip's chunk table: readers skip it).
inline std::string gzip_with_extra_field(const std::string& text) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::string extra = std::string("RA\x06\x00", 4) + std::string("\x01\x00\x00\x10\x01\x00", 6);
  gz_header header{};
  header.extra = reinterpret_cast<Bytef*>(extra.data());
  header.extra_len = static_cast<uInt>(extra.size());
  header.os = 3;
  deflateSetHeader(&z, &header);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (status != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

}  // namespace tg::testing
