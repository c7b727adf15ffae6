#pragma once
// Runs the real tokengrow binary as a child process, the way a user or a job
// scheduler does, so the fault tests can kill it (SIGKILL), starve it of disk (a
// file size limit) or of memory (an address space limit), measure its peak memory,
// or run two at once.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tg::faults {

struct ProcessOptions {
  std::vector<std::pair<std::string, std::string>> env;  // set in the child, on top of ours
  int64_t file_size_limit = -1;  // bytes (RLIMIT_FSIZE, SIGXFSZ ignored): writes past it fail with EFBIG
  int64_t address_space_limit = -1;  // bytes (RLIMIT_AS, as `ulimit -v`): allocations past it fail
  bool measure_peak = false;         // read the child's VmHWM and VmPeak while it runs (ProcessResult)
  int64_t kill_after_ms = -1;    // SIGKILL the child this long after it started, if still running
  int64_t timeout_ms = 300000;   // a hung child is killed and the test fails
};

struct ProcessResult {
  int exit_code = -1;       // -1 if killed by a signal
  int signal = 0;           // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string out, err;     // stdout and stderr
  // With measure_peak: the child's peak resident set and address space (VmHWM and VmPeak
  // of /proc/<pid>/status) at the last reading before it ended, every 0.5 ms; 0 if never
  // read. (getrusage's ru_maxrss would also count this process's pages, which the child
  // held between fork and exec.)
  int64_t peak_rss_bytes = 0, peak_address_space_bytes = 0;
  bool killed_by_us() const { return signal == 9 && !timed_out; }
};

// argv[0] is the program path. Blocks until the child ends (or is killed).
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The tokengrow binary under test (TOKENGROW_BINARY) with these arguments.
ProcessResult run_tokengrow(std::vector<std::string> args, const ProcessOptions& options = {});

// Starts a child without waiting (for the lock test); stop it with kill_and_wait,
// or wait for it with wait_exit_code. Its stderr goes to stdout_path + ".err".
int start_tokengrow(std::vector<std::string> args, const std::string& stdout_path);
void kill_and_wait(int pid);
// The exit code of a started child once it ends (-1 if a signal ended it).
int wait_exit_code(int pid);

}  // namespace tg::faults
