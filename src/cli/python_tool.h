#pragma once
// Running python/tokengrow_torch.py for the commands that need PyTorch's own
// serialization (`export --format torch`, `import`): Debian has no C++ reader or
// writer of PyTorch files, and python3-torch is what a PyTorch user has anyway.
#include <string>
#include <vector>

namespace tg {

// The directory of tokengrow_torch.py: $TOKENGROW_PYTHON_DIR if set, else the
// source tree's python/ this binary was built from.
std::string python_module_dir();

// Runs `/usr/bin/python3 <dir>/tokengrow_torch.py args...` (no shell), its output
// and errors passed through; returns its exit code. UserError if python3, torch or
// the module is missing, naming what to install.
int run_torch_tool(const std::vector<std::string>& args);

}  // namespace tg
