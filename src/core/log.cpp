#include "core/log.h"

#include <memory>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>

#include "core/error.h"

namespace tg {

namespace {
// The terminal: plain progress lines on `out`, "warning: ..." and "error: ..." on `err`.
class TerminalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  TerminalSink(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    // Each line is one write: on an unbuffered std::cerr every << is a write(2) of its
    // own, and under mpirun two ranks' "error: " and text interleaved ("error: error: ").
    std::string line(prefix(msg.level));
    line.append(msg.payload.data(), msg.payload.size());
    line += '\n';
    (msg.level <= spdlog::level::info ? out_ : err_) << line;
  }
  static std::string_view prefix(spdlog::level::level_enum level) {
    switch (level) {
      case spdlog::level::trace:
      case spdlog::level::debug: return "debug: ";
      case spdlog::level::info: return "";
      case spdlog::level::warn: return "warning: ";
      case spdlog::level::err: return "error: ";
      default: return "internal error: ";
    }
  }
  void flush_() override {
    out_.flush();
    err_.flush();
  }

 private:
  std::ostream& out_;
  std::ostream& err_;
};

// A log file (appended to), tagged with its role so that a later file of the same
// role replaces it. Lines: "[2026-11-24 12:00:00.123] [info] step 50/195 | ...".
class LogFileSink final : public spdlog::sinks::sink {
 public:
  LogFileSink(const std::string& path, LogFileRole role)
      : file_(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false)), role_(role) {
    file_->set_formatter(std::make_unique<spdlog::pattern_formatter>("[%Y-%m-%d %H:%M:%S.%e] [%l] %v"));
  }
  LogFileRole role() const { return role_; }
  void log(const spdlog::details::log_msg& msg) override { file_->log(msg); }
  void flush() override { file_->flush(); }
  void set_pattern(const std::string& pattern) override { file_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    file_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> file_;
  LogFileRole role_;
};

spdlog::level::level_enum logger_level(Verbosity v) {
  return v == Verbosity::Verbose ? spdlog::level::debug : spdlog::level::info;
}
}  // namespace

spdlog::logger make_logger(std::ostream& out, std::ostream& err) {
  spdlog::logger log("tokengrow", std::make_shared<TerminalSink>(out, err));
  log.flush_on(spdlog::level::trace);  // every line out at once, as std::endl did
  set_verbosity(log, Verbosity::Normal);
  return log;
}

void set_verbosity(spdlog::logger& log, Verbosity verbosity) {
  log.set_level(logger_level(verbosity));
  const auto terminal_level = verbosity == Verbosity::Quiet ? spdlog::level::warn : logger_level(verbosity);
  for (const auto& sink : log.sinks())
    if (std::dynamic_pointer_cast<TerminalSink>(sink)) sink->set_level(terminal_level);
}

void attach_log_file(spdlog::logger& log, const std::string& path, LogFileRole role) {
  std::shared_ptr<LogFileSink> file;
  try {
    file = std::make_shared<LogFileSink>(path, role);
  } catch (const spdlog::spdlog_ex& e) {
    throw UserError(path + ": cannot open the log file: " + e.what());
  }
  auto& sinks = log.sinks();
  std::erase_if(sinks, [&](const spdlog::sink_ptr& s) {
    const auto other = std::dynamic_pointer_cast<LogFileSink>(s);
    return other && other->role() == role;
  });
  sinks.push_back(std::move(file));
}

spdlog::logger child_logger(const spdlog::logger& parent, const std::string& name) {
  spdlog::logger log(name, parent.sinks().begin(), parent.sinks().end());
  log.set_level(parent.level());
  log.flush_on(parent.flush_level());
  return log;
}

}  // namespace tg
