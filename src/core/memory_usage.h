#pragma once
// Resident memory of this process, from /proc/self/status (Linux).
#include <cstdint>

namespace tg {

// VmHWM: the peak resident set size so far, in bytes (0 where unavailable).
int64_t peak_resident_bytes();
// Minor page faults of this process so far (getrusage): first touches of fresh pages.
int64_t minor_page_faults();

}  // namespace tg
