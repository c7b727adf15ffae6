#pragma once
// `tokengrow ARGS...` run in this process through run_cli, its exit code and what it
// printed; the tests' one way to call the command line without a child process.
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"

namespace tg::testing {

struct CliResult {
  int code;
  std::string out, err;
};

inline CliResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), "tokengrow");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace tg::testing
