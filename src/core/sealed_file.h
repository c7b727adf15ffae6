#pragma once
// Every HDF5 file tokengrow writes (checkpoints, corpora, metrics, experiment
// results) is *sealed*: built whole in memory, given a 512-byte header in the HDF5
// user block (space HDF5 reserves at the start of the file and never reads), then
// written under a temporary name and published atomically (fsync, rename,
// directory fsync; core/durable_file.h).
//
// The header is plain text, so `head -c 512 file.h5` shows it:
//
//   tokengrow sealed file 1
//   kind checkpoint
//   bytes 1234567            total file size
//   crc32 89abcdef           zlib CRC-32 of bytes [512, bytes)
//
// A reader checks the seal *before* HDF5 parses anything: a truncated, damaged or
// foreign file is reported in one line naming the file and the fault, and corrupt
// bytes never reach the HDF5 parser (whose behaviour on damaged metadata is not
// ours to guarantee). h5py and other HDF5 tools read sealed files as usual.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/durable_file.h"
#include "core/hdf5_file.h"

namespace tg {

// Bytes of the user block that holds the seal (HDF5 wants a power of two >= 512).
inline constexpr int64_t kSealBytes = 512;

// The bytes of a sealed file of the given kind: fill() writes the HDF5 contents into
// a fresh in-memory file (`name` labels its errors); the seal goes in front. Held
// once: the header is written into the image's own leading bytes.
std::vector<char> build_sealed(const std::string& name, const std::string& kind,
                               const std::function<void(H5File&)>& fill);

// Writes `path` as a sealed file: build_sealed(), then write_file_durably() (which
// replaces an existing `path`, or with Publish::Exclusive refuses to). If anything
// throws, no temporary file remains and an existing `path` is untouched.
void write_sealed(const std::string& path, const std::string& kind, const std::function<void(H5File&)>& fill,
                  Publish mode = Publish::Replace);

// The 512-byte header that seals `body` (the file's bytes after the header) as a
// file of this kind.
std::string seal_header(const std::string& kind, std::string_view body);

// Verifies the seal of `path` (a sealed file of this kind, complete, checksum
// matching) and opens it read-only; throws UserError naming the file otherwise.
H5File open_sealed(const std::string& path, const std::string& kind);

// The same verification without opening; returns "" for a good file, else what is
// wrong (used where a bad file is to be skipped or reported rather than thrown).
std::string seal_problem(const std::string& path, const std::string& kind);

}  // namespace tg
