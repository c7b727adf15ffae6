#include "core/crash_point.h"

#ifdef TOKENGROW_CRASH_POINTS
#include <signal.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#endif

namespace tg {

#ifdef TOKENGROW_CRASH_POINTS
void crash_point(const char* name) {
  static const char* spec = std::getenv("TOKENGROW_CRASH_AT");
  if (!spec || !*spec) return;
  static std::mutex mutex;
  static std::map<std::string, long> hits;
  const std::string s(spec);
  const size_t colon = s.find(':');
  const std::string target = s.substr(0, colon);
  if (target != name) return;
  const long wanted = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
  const bool stop = s.size() > 5 && s.compare(s.size() - 5, 5, ":stop") == 0;
  std::lock_guard<std::mutex> lock(mutex);
  if (++hits[target] == wanted) ::raise(stop ? SIGSTOP : SIGKILL);
}
#else
void crash_point(const char*) {}
#endif

}  // namespace tg
