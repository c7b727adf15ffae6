#pragma once
// Crash-safe publication of a file: written in full under a temporary name, then
//   fsync(tmp) -> rename(tmp, final) -> fsync(directory)
// so that at every instant `final` is either the old complete file or the new
// complete file, also after a power cut. Used for checkpoints, corpora, grown
// models and experiment summaries.
//
// Every write has its own temporary file, "<final>.<6 random characters>.tmp" in
// the same directory (so rename is atomic), created exclusively: two processes
// writing the same file never share one.
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tg {

// How a finished file takes its final name.
enum class Publish {
  Replace,    // an existing file of that name is replaced, atomically
  Exclusive,  // refused if the name exists, also when another process creates it
              // while this one writes (renameat2 RENAME_NOREPLACE, or link(2))
};

// Publishes a finished temporary file. On failure removes it, leaves final_path
// untouched and throws UserError naming the file and the OS error (for Exclusive,
// "<final>: already exists ...").
void publish_file(const std::string& tmp_path, const std::string& final_path, Publish mode = Publish::Replace);

// Writes `bytes` to a new temporary file, then publish_file(). A failed write
// (disk full, file too large, I/O error) removes the temporary file, leaves an
// existing `path` untouched and throws UserError naming `path` and the OS error.
void write_file_durably(const std::string& path, std::string_view bytes, Publish mode = Publish::Replace);

// write_file_durably() of `json` as text: indented by 2, one trailing newline.
void write_json_durably(const std::string& path, const nlohmann::json& json);

// Publishes `path` as a second name (a hard link) of the published file `existing`,
// atomically as write_file_durably() would: the bytes are written once, for both
// names. Returns false, changing nothing, where the file system has no hard links
// (the caller then writes a copy); other failures throw UserError naming `path`.
bool link_file_durably(const std::string& existing, const std::string& path);

// Removes `path` and syncs its directory, so the removal survives a power cut.
void remove_file_durably(const std::string& path);

// Removes a temporary file if present (after a failed write); never throws.
void discard_file(const std::string& tmp_path) noexcept;

// The temporary files of writes of `final_path` now in its directory (left by a
// process killed mid-write, or being written right now).
std::vector<std::string> temp_files_of(const std::string& final_path);

// Removes the temporary files of every write in `dir` (not below it): regular files
// named "<final>.<6 characters of [a-z0-9]>.tmp". Only for a caller that holds the
// directory's lock (core/run_lock.h), so that no write of its own is under way and
// what is left is a killed write's. Returns the paths removed.
std::vector<std::string> remove_temp_files_in(const std::string& dir);

}  // namespace tg
