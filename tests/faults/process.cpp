#include "process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>

extern char** environ;

namespace tg::faults {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The child's environment: ours with the overrides (built before fork, since the
// child may only make async-signal-safe calls until exec).
std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool overridden = false;
    for (const auto& [name, value] : options.env) overridden |= entry.rfind(name + "=", 0) == 0;
    if (!overridden) env.push_back(entry);
  }
  for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);
  return env;
}

// A "Vm...:  1234 kB" field of a running process's status, in bytes; 0 if it cannot be
// read (the process ended).
int64_t status_bytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return 0;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}
int spawn(const std::vector<std::string>& argv, const ProcessOptions& options, const std::string& out_path,
          const std::string& err_path) {
  const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("cannot create " + out_path + " or " + err_path);
  std::vector<std::string> args = argv, env = child_environment(options);
  std::vector<char*> arg_ptrs = pointers(args), env_ptrs = pointers(env);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (options.file_size_limit >= 0) {
      signal(SIGXFSZ, SIG_IGN);  // ignored dispositions survive exec: writes fail with EFBIG instead
      const rlimit limit{static_cast<rlim_t>(options.file_size_limit), static_cast<rlim_t>(options.file_size_limit)};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    if (options.address_space_limit >= 0) {
      const rlimit limit{static_cast<rlim_t>(options.address_space_limit), static_cast<rlim_t>(options.address_space_limit)};
      setrlimit(RLIMIT_AS, &limit);
    }
    execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    _exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  return pid;
}

std::vector<std::string> tokengrow_argv(std::vector<std::string> args) {
  args.insert(args.begin(), TOKENGROW_BINARY);
  return args;
}
}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  char tmpl[] = "/tmp/tokengrow_faults_io_XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl, out_path = dir + "/out", err_path = dir + "/err";
  const pid_t pid = spawn(argv, options, out_path, err_path);
  const auto start = std::chrono::steady_clock::now();
  ProcessResult result;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (options.measure_peak) {  // the last readings: they only grow once the child has exec'd
      if (const int64_t peak = status_bytes(pid, "VmHWM"); peak > 0) result.peak_rss_bytes = peak;
      if (const int64_t peak = status_bytes(pid, "VmPeak"); peak > 0) result.peak_address_space_bytes = peak;
    }
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    const bool kill_now = options.kill_after_ms >= 0 && elapsed >= options.kill_after_ms;
    if (elapsed >= options.timeout_ms) result.timed_out = true;
    if (kill_now || result.timed_out) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  ::rmdir(dir.c_str());
  return result;
}

ProcessResult run_tokengrow(std::vector<std::string> args, const ProcessOptions& options) {
  return run_process(tokengrow_argv(std::move(args)), options);
}

int start_tokengrow(std::vector<std::string> args, const std::string& stdout_path) {
  return spawn(tokengrow_argv(std::move(args)), {}, stdout_path, stdout_path + ".err");
}

int wait_exit_code(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void kill_and_wait(int pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace tg::faults
