#pragma once
// `tokengrow bench --ranks N`: the data-parallel scaling of one config on this machine,
// as three child processes of the same binary, each `bench --json` (one at a time):
//   1 process x N threads, 1 process x 1 thread, mpirun -np N x 1 thread;
// then tokens/s of each, the parallel efficiency of the N ranks against the N threads
// and against N x one thread, and the bytes and time of the gradient all-reduce.
#include <cstdint>
#include <ostream>
#include <string>

namespace tg {

struct RankScalingOptions {
  std::string config;   // the run config's path
  int ranks = 2;
  int64_t steps = 20, warmup = 3;
  std::string precision;  // "" for the config's
};

void bench_rank_scaling(const RankScalingOptions& options, std::ostream& out);

}  // namespace tg
