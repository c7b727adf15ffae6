#pragma once
// Crash-safe publication of a file: written in full under a temporary name, then
//   fsync(tmp) -> rename(tmp, final) -> fsync(directory)
// so that at every instant `final` is either the old complete file or the new
// complete file, also after a power cut. Used for checkpoints, corpora, grown
// models and experiment summaries.
#include <string>
#include <string_view>

namespace tg {

// The temporary name writers use for `final_path` (same directory, so rename is atomic).
std::string temp_path_for(const std::string& final_path);

// Publishes a finished temporary file. On failure removes it, leaves final_path
// untouched and throws UserError naming the file and the OS error.
void publish_file(const std::string& tmp_path, const std::string& final_path);

// Writes `bytes` to <path>.tmp, then publish_file(). A failed write (disk full,
// file too large, I/O error) removes the temporary file, leaves an existing `path`
// untouched and throws UserError naming `path` and the OS error.
void write_file_durably(const std::string& path, std::string_view bytes);

// Publishes `path` as a second name (a hard link) of the published file `existing`,
// atomically as write_file_durably() would: the bytes are written once, for both
// names. Returns false, changing nothing, where the file system has no hard links
// (the caller then writes a copy); other failures throw UserError naming `path`.
bool link_file_durably(const std::string& existing, const std::string& path);

// Removes `path` and syncs its directory, so the removal survives a power cut.
void remove_file_durably(const std::string& path);

// Removes a temporary file if present (after a failed write); never throws.
void discard_file(const std::string& tmp_path) noexcept;

}  // namespace tg
