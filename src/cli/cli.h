#pragma once
// The `tokengrow` command line: one binary, one subcommand per verb.
// Exit codes: 0 success, 2 a user error (bad flag, config, file), 1 an internal error
// (a bug), 3 an experiment stopped by a step budget before it finished (tests only).
#include <ostream>

namespace tg {

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// Each subcommand parses its own flags; argv[0] is the subcommand name.
int cmd_prepare(int argc, const char* const* argv, std::ostream& out);
int cmd_train(int argc, const char* const* argv, std::ostream& out);
int cmd_eval(int argc, const char* const* argv, std::ostream& out);
int cmd_sample(int argc, const char* const* argv, std::ostream& out);
int cmd_inspect(int argc, const char* const* argv, std::ostream& out);
int cmd_grow(int argc, const char* const* argv, std::ostream& out);
int cmd_experiment(int argc, const char* const* argv, std::ostream& out);
int cmd_bench(int argc, const char* const* argv, std::ostream& out);

}  // namespace tg
