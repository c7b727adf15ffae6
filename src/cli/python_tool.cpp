#include "cli/python_tool.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"

extern char** environ;

namespace tg {

namespace {
constexpr const char* kPython = "/usr/bin/python3";

int run(const std::vector<std::string>& argv) {
  std::vector<char*> c_argv;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0].c_str(), nullptr, nullptr, c_argv.data(), environ);
  if (spawned != 0) throw UserError(argv[0] + ": cannot run it: " + std::strerror(spawned));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw UserError(argv[0] + ": lost track of it: " + std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

std::string python_module_dir() {
  if (const char* dir = std::getenv("TOKENGROW_PYTHON_DIR"); dir != nullptr && *dir != '\0') return dir;
  return TOKENGROW_PYTHON_DIR;
}

int run_torch_tool(const std::vector<std::string>& args) {
  const std::string module = (std::filesystem::path(python_module_dir()) / "tokengrow_torch.py").string();
  if (!std::filesystem::exists(kPython))
    throw UserError(std::string(kPython) + ": not found; install python3, python3-torch and python3-h5py");
  if (!std::filesystem::exists(module))
    throw UserError(module + ": not found (set TOKENGROW_PYTHON_DIR to the directory holding tokengrow_torch.py)");
  if (run({kPython, "-c", "import torch, h5py"}) != 0)
    throw UserError("python3 cannot import torch and h5py; install python3-torch and python3-h5py");
  std::vector<std::string> argv = {kPython, module};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

}  // namespace tg
