#pragma once
// Why a path cannot be read as a data file, in the words every loader uses, and
// reading a whole regular file without ever blocking on a FIFO or device.
#include <cstdint>
#include <limits>
#include <string>

namespace tg {

// "" for an existing regular file, else "no such file", "is a directory, not a
// file", "not a regular file (a FIFO)" (or socket, device) or, when the path
// cannot be examined, "cannot read: <the OS's reason>".
std::string regular_file_problem(const std::string& path);

// The bytes of a regular file. The file is opened without blocking and checked to
// be a regular file through the open descriptor, so a FIFO or device named as a
// config or text file is refused instead of hanging; every failure is a UserError
// "<path>: <problem>" with the OS's reason (`what` names the file's role: "config
// file", "text file"). A file larger than max_bytes is refused before it is read.
std::string read_regular_file(const std::string& path, const std::string& what,
                              int64_t max_bytes = std::numeric_limits<int64_t>::max());

// The same checks, returning the open descriptor (blocking again, O_CLOEXEC) for the
// caller to read and close.
int open_regular_file(const std::string& path, const std::string& what);

}  // namespace tg
