#pragma once
// Logging without global state. A command makes one spdlog::logger (never put in
// spdlog's registry) and hands it down by reference, as it would an std::ostream:
//   the terminal: progress lines exactly as they are built ("step 50/195 | loss ..."),
//     on the output stream; warnings and errors as "warning: ..." and "error: ..." on
//     the error stream; debug lines (--verbose) as "debug: ...".
//   log files (a run directory's train.log, an experiment directory's
//     experiment.log): every line, with a timestamp and its level, including the
//     progress that --quiet keeps off the terminal.
// What a command is asked for (eval's loss, inspect's listing, sample's text,
// bench's table, --help) is its result, not a log line: it goes to the output
// stream directly, and --quiet leaves it.
#include <ostream>
#include <sstream>
#include <string>

#include <spdlog/logger.h>

namespace tg {

enum class Verbosity {
  Quiet,    // terminal: warnings and errors; log files: and progress
  Normal,   // terminal and log files: progress, warnings and errors
  Verbose,  // and debug lines, on both
};

// A logger to the terminal only, at Normal verbosity (tests pass string streams).
spdlog::logger make_logger(std::ostream& out, std::ostream& err);
void set_verbosity(spdlog::logger& log, Verbosity verbosity);

enum class LogFileRole { Run, Experiment };
// From now on every line `log` gets also goes to the end of `path`, for as long as
// `log` lives; a file of the same role attached before is let go (a logger writes
// one run's train.log at a time). UserError naming the file if it cannot be opened.
void attach_log_file(spdlog::logger& log, const std::string& path, LogFileRole role);

// A logger with the sinks and level of `parent` (its terminal and files), to which
// more files can be attached that close when it dies (an experiment's stage).
spdlog::logger child_logger(const spdlog::logger& parent, const std::string& name);

// The values streamed into one string, formatted exactly as `out << ...` does:
//   log.info(line("resumed ", path, " at step ", step));
template <typename... T>
std::string line(const T&... values) {
  std::ostringstream text;
  (text << ... << values);
  return text.str();
}

}  // namespace tg
