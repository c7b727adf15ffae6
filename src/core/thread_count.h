#pragma once
// The thread counts a user may ask for (train.threads and every --threads flag):
// 0 keeps the OpenMP default (OMP_NUM_THREADS or all cores). libgomp crashes when
// asked for about 100000 threads and starts thousands without complaint below
// that, so the count is bounded before any Engine sees it, and so is the OpenMP
// default it falls back to (bound_default_threads).
#include <cstdint>
#include <string>

#include "core/error.h"

namespace tg {

inline constexpr int64_t kMaxThreads = 1024;

// The range as the config reader words it: "expected an integer in [0, 1024]".
inline std::string thread_count_range() { return "expected an integer in [0, " + std::to_string(kMaxThreads) + "]"; }

// `threads` if within [0, kMaxThreads], else UserError "<what>: expected an integer
// in [0, 1024], got N".
inline int checked_thread_count(int64_t threads, const std::string& what) {
  if (threads < 0 || threads > kMaxThreads)
    throw UserError(what + ": " + thread_count_range() + ", got " + std::to_string(threads));
  return static_cast<int>(threads);
}

// The OpenMP default bounded like the counts above: if it is above kMaxThreads
// (OMP_NUM_THREADS=99999), it becomes this machine's cores (at most kMaxThreads) and
// the returned text says so, for a warning; otherwise nothing changes and it is "".
// Call once, before the first parallel region.
std::string bound_default_threads();

}  // namespace tg
