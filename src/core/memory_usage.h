#pragma once
// Resident memory of this process, from /proc/self/status (Linux).
#include <cstdint>

namespace tg {

// The resident set size now, in bytes (0 where unavailable): /proc/self/statm, cheap
// enough to read around every part of a step that bench measures.
int64_t resident_bytes();
// VmHWM: the peak resident set size so far, in bytes (0 where unavailable).
int64_t peak_resident_bytes();
// Minor page faults of this process so far (getrusage): first touches of fresh pages.
int64_t minor_page_faults();

}  // namespace tg
