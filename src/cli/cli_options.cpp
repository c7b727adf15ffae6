#include "cli/cli_options.h"

#include <algorithm>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_count.h"
#include "dist/process_group.h"

namespace tg {

namespace {
// The flag a rejected value was given to ("--threads" for "--threads two" or
// "--threads=two"), or "" if it cannot be told; cxxopts names only the value.
std::string flag_of_value(int argc, const char* const* argv, const std::string& value) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == value && i > 1 && argv[i - 1][0] == '-') return argv[i - 1];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos && arg.substr(eq + 1) == value) return arg.substr(0, eq);
  }
  return "";
}

// cxxopts' message with the argument it quotes (between typographic quotes) cut
// short: an unknown flag is echoed as typed, however long.
std::string with_short_quote(const std::string& what) {
  const size_t open = what.find("\u2018"), close = what.rfind("\u2019");
  if (open == std::string::npos || close == std::string::npos || close < open + 3) return shown(what, 200);
  return what.substr(0, open + 3) + shown(what.substr(open + 3, close - open - 3)) + what.substr(close);
}
}  // namespace

bool parse_options(cxxopts::Options& options, int argc, const char* const* argv, cxxopts::ParseResult& result,
                   std::ostream& out, spdlog::logger& log) {
  options.add_options()
      ("h,help", "Show this help")
      ("quiet", "Show only warnings and errors (progress still goes to a run's log file)")
      ("verbose", "Show debug lines too (and write them to a run's log file)");
  try {
    result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {
    // e.what() is "Argument 'VALUE' failed to parse", with typographic quotes.
    const std::string what = e.what();
    const size_t open = what.find("\u2018"), close = what.find("\u2019");
    const std::string value =
        open != std::string::npos && close != std::string::npos ? what.substr(open + 3, close - open - 3) : "";
    const std::string flag = flag_of_value(argc, argv, value);
    if (flag.empty()) throw UserError(options.program() + ": " + with_short_quote(what) + " (see --help)");
    throw UserError(options.program() + ": " + shown(flag) + " \"" + shown(value) + "\" is not a valid value (see --help)");
  } catch (const cxxopts::exceptions::exception& e) {
    throw UserError(options.program() + ": " + with_short_quote(e.what()) + " (see --help)");
  }
  if (result.count("help")) {
    out << options.help() << "\n";
    return false;
  }
  if (result.count("quiet") && result.count("verbose"))
    throw UserError(options.program() + ": --quiet and --verbose exclude each other (see --help)");
  set_verbosity(log, result.count("quiet") ? Verbosity::Quiet : result.count("verbose") ? Verbosity::Verbose
                                                                                        : Verbosity::Normal);
  if (!result.unmatched().empty())
    throw UserError(options.program() + ": unexpected argument \"" + shown(result.unmatched().front()) +
                    "\" (see --help)");
  // Every flag names a file, a number or a choice: an empty value is a mistake (an
  // unset shell variable), never a meaning; said here, not as a file called "".
  for (const cxxopts::KeyValue& kv : result.arguments())
    if (kv.value().empty())
      throw UserError(options.program() + ": --" + kv.key() + " is empty (see --help)");
  return true;
}

void require_flag(const cxxopts::ParseResult& result, const std::string& command, const std::string& flag) {
  if (!result.count(flag)) throw UserError("tokengrow " + command + ": --" + flag + " is required (see --help)");
}

int threads_flag(const cxxopts::ParseResult& result, const std::string& command) {
  return checked_thread_count(result["threads"].as<int64_t>(), "tokengrow " + command + ": --threads");
}

void add_peer_timeout_flag(cxxopts::Options& options) {
  options.add_options()("peer-timeout",
                        "Under mpirun: seconds a rank waits for the others in a collective before the job ends "
                        "(exit code 4), naming the rank that stopped answering",
                        cxxopts::value<double>()->default_value(line(kDefaultPeerTimeoutSeconds)));
}

void apply_peer_timeout(const cxxopts::ParseResult& result, const std::string& command, Communicator& comm) {
  constexpr double kMin = 1, kMax = 1e6;
  const double seconds = result["peer-timeout"].as<double>();
  if (!(seconds >= kMin && seconds <= kMax))
    throw UserError(line("tokengrow ", command, " --peer-timeout: expected seconds in [", kMin, ", ", kMax, "], got ",
                         seconds));
  comm.set_peer_timeout(seconds);
}

// Threads per rank: with several ranks on this machine, the default (0: all cores)
// becomes the cores shared out among them; more than the cores is warned about.
int threads_per_rank(int64_t configured, Communicator& comm, spdlog::logger& log) {
  if (comm.size() == 1) return static_cast<int>(configured);
  const int ranks_here = ProcessGroup::local_ranks();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = configured > 0 ? static_cast<int>(configured) : std::max(1, cores / ranks_here);
  if (threads * ranks_here > cores)
    log.warn(line(ranks_here, " ranks x ", threads, " threads on ", cores,
                  " cores: oversubscribed, every rank waits for the slowest (set train.threads or --threads to ",
                  std::max(1, cores / ranks_here), ")"));
  return threads;
}

}  // namespace tg
