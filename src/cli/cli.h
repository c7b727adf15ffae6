#pragma once
// The `tokengrow` command line: one binary, one subcommand per verb.
// Exit codes: 0 success, 2 a user error (bad flag, config, file), 1 an internal error
// (a bug), 3 an experiment stopped by a step budget before it finished (tests only),
// 4 a rank of a data-parallel job stopped answering (PeerLost, core/communicator.h).
#include <ostream>

#include <spdlog/logger.h>

#include "core/communicator.h"

namespace tg {

inline constexpr int kExitPeerLost = 4;

// One process alone, or (from main, under mpirun) one rank of a data-parallel job:
// then only `train`, `experiment` and `bench` run, and ranks other than 0 print only warnings and errors.
int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);
int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err, Communicator& comm);

// Each subcommand parses its own flags; argv[0] is the subcommand name. What it is
// asked for (results, --help) goes to `out`; progress, warnings and errors to `log`
// (core/log.h: the terminal, and a run's or an experiment's log file).
int cmd_prepare(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_train(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm);
int cmd_eval(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_sample(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_inspect(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_grow(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_experiment(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm);
int cmd_tokenize(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_export(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_import(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log);
int cmd_bench(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm);

}  // namespace tg
