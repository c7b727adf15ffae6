#pragma once
// Resident memory of this process, from /proc/self/status, and the memory the machine
// has left for it, from /proc/meminfo and the cgroup (Linux).
#include <cstdint>
#include <string>

namespace tg {

// The resident set size now, in bytes (0 where unavailable): /proc/self/statm, cheap
// enough to read around every part of a step that bench measures.
int64_t resident_bytes();
// VmHWM: the peak resident set size so far, in bytes (0 where unavailable).
int64_t peak_resident_bytes();
// Minor page faults of this process so far (getrusage): first touches of fresh pages.
int64_t minor_page_faults();

// The memory this process can still take without the kernel reclaiming or killing:
// the least of MemAvailable (/proc/meminfo) and what its cgroup's limit leaves (v2
// memory.max - memory.current; v1 memory.limit_in_bytes - memory.usage_in_bytes),
// with where that least figure came from. bytes < 0 when none can be read. An
// address space limit (ulimit -v) is not counted: libraries reserve address space they
// never touch, so it says little about what fits; allocations past it fail instead.
struct AvailableMemory {
  int64_t bytes = -1;
  std::string source;  // "MemAvailable in /proc/meminfo", "the cgroup limit (/sys/fs/cgroup/memory.max)"
  bool known() const { return bytes >= 0; }
};
AvailableMemory available_memory();

// A byte count for people: "812 KiB", "37.5 MiB", "1.25 GiB".
std::string memory_text(double bytes);

}  // namespace tg
