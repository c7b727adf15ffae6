#include "core/thread_count.h"

#include <algorithm>
#include <cstdlib>

#include <omp.h>


namespace tg {

std::string bound_default_threads() {
  const int asked = omp_get_max_threads();
  if (asked <= kMaxThreads) return "";
  const int cores = std::clamp(omp_get_num_procs(), 1, static_cast<int>(kMaxThreads));
  omp_set_num_threads(cores);
  const char* env = std::getenv("OMP_NUM_THREADS");
  const std::string source = env ? "OMP_NUM_THREADS=" + shown(env)
                                 : "the OpenMP default of " + std::to_string(asked) + " threads";
  return source + " is above the " + std::to_string(kMaxThreads) + " threads tokengrow runs; using this machine's " +
         std::to_string(cores) + " cores instead (--threads or train.threads choose a count in [0, " +
         std::to_string(kMaxThreads) + "])";
}

}  // namespace tg
