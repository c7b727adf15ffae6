#pragma once
// Shared flag handling for subcommands: cxxopts parse errors and missing required
// flags become UserErrors that name the subcommand and the flag.
#include <string>

#include <cxxopts.hpp>
#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/enum_names.h"
#include "core/error.h"

namespace tg {

// Parses argv, with the flags every subcommand has: --help, and --quiet (the
// terminal shows warnings and errors only) or --verbose (and debug lines), which set
// `log`'s verbosity (core/log.h). Returns false (after printing help to `out`) when
// --help was given.
bool parse_options(cxxopts::Options& options, int argc, const char* const* argv, cxxopts::ParseResult& result,
                   std::ostream& out, spdlog::logger& log);

// Throws UserError "tokengrow <command>: --<flag> is required" when absent.
void require_flag(const cxxopts::ParseResult& result, const std::string& command, const std::string& flag);

// The --threads flag's value, in the range train.threads allows (core/thread_count.h);
// UserError "tokengrow <command>: --threads: expected an integer in [0, 1024], got N".
int threads_flag(const cxxopts::ParseResult& result, const std::string& command);

// One of an enum's names (`names`) given as --<flag>; its UserError becomes
// "tokengrow <command>: --<flag>: unknown <what> ... (expected ...)".
template <class E, size_t N>
E enum_flag(const cxxopts::ParseResult& result, const std::string& command, const std::string& flag,
            const EnumNames<E, N>& names) {
  try {
    return names.parse(result[flag].as<std::string>());
  } catch (const UserError& e) {
    throw UserError("tokengrow " + command + ": --" + flag + ": " + e.what());
  }
}

// --peer-timeout SECONDS: how long a rank of a data-parallel job waits in a collective
// for the others before the job ends with exit code 4 (core/communicator.h). Added to a
// command's options by the first, applied to `comm` by the second; bounded to [1, 1e6].
void add_peer_timeout_flag(cxxopts::Options& options);
void apply_peer_timeout(const cxxopts::ParseResult& result, const std::string& command, Communicator& comm);

// Threads per rank: with several ranks on this machine, the default (0: all cores)
// becomes the cores shared out among them; more than the cores is warned about.
int threads_per_rank(int64_t configured, Communicator& comm, spdlog::logger& log);

}  // namespace tg
