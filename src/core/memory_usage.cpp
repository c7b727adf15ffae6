#include "core/memory_usage.h"

#include <sys/resource.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

namespace tg {

int64_t resident_bytes() {
  // statm: "size resident shared text lib data dt", in pages
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (!statm) return 0;
  long long size = 0, resident = 0;
  const bool read = std::fscanf(statm, "%lld %lld", &size, &resident) == 2;
  std::fclose(statm);
  return read ? static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

int64_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  return 0;
}

int64_t minor_page_faults() {
  rusage usage{};
  return getrusage(RUSAGE_SELF, &usage) == 0 ? static_cast<int64_t>(usage.ru_minflt) : 0;
}

namespace {
// The first number in a file ("max" or anything unreadable: none).
std::optional<int64_t> number_in(const std::string& path) {
  std::ifstream in(path);
  long long value = 0;
  if (!(in >> value) || value < 0) return std::nullopt;
  return static_cast<int64_t>(value);
}

// MemAvailable, in bytes ("MemAvailable:  21857000 kB").
std::optional<int64_t> mem_available() {
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);)
    if (line.rfind("MemAvailable:", 0) == 0) return std::stoll(line.substr(13)) * 1024;
  return std::nullopt;
}

// What a cgroup limit leaves: limit - usage, if the limit is set (v1 writes "no limit"
// as a number near 2^63).
std::optional<int64_t> cgroup_room(const std::string& limit_path, const std::string& usage_path) {
  const std::optional<int64_t> limit = number_in(limit_path), usage = number_in(usage_path);
  if (!limit || !usage || *limit >= (int64_t{1} << 60)) return std::nullopt;
  return std::max<int64_t>(0, *limit - *usage);
}
}  // namespace

AvailableMemory available_memory() {
  AvailableMemory least;
  auto consider = [&](std::optional<int64_t> bytes, const std::string& source) {
    if (bytes && (!least.known() || *bytes < least.bytes)) least = {*bytes, source};
  };
  consider(mem_available(), "MemAvailable in /proc/meminfo");
  consider(cgroup_room("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
           "the cgroup limit (/sys/fs/cgroup/memory.max)");
  consider(cgroup_room("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
           "the cgroup limit (/sys/fs/cgroup/memory/memory.limit_in_bytes)");
  return least;
}

std::string memory_text(double bytes) {
  const double kib = 1024, mib = kib * 1024, gib = mib * 1024;
  const double unit = bytes >= gib ? gib : bytes >= mib ? mib : kib;
  const double value = bytes / unit;
  char text[48];
  std::snprintf(text, sizeof text, "%.*f %s", value < 10 ? 2 : value < 100 ? 1 : 0, value,
                unit == gib ? "GiB" : unit == mib ? "MiB" : "KiB");
  return text;
}

}  // namespace tg
