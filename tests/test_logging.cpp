// What a command prints goes through its logger (core/log.h): the terminal as it
// always looked, and every line, timestamped, in the run's train.log or the
// experiment's experiment.log; --quiet keeps progress off the terminal only,
// --verbose adds debug lines.
#include <catch2/catch.hpp>

#include <filesystem>
#include <regex>
#include <sstream>

#include "cli/cli.h"
#include "cli_run.h"
#include "test_data.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Logged {
  std::string level, text;
  bool operator==(const Logged&) const = default;
};

// A log file's lines, each checked for its timestamp and level.
std::vector<Logged> read_log(const std::string& path) {
  REQUIRE(fs::exists(path));
  const std::regex format(R"(^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] \[(debug|info|warning|error)\] (.*)$)");
  std::vector<Logged> logged;
  for (const std::string& line : lines_of(read_file(path))) {
    std::smatch m;
    INFO(path << ": " << line);
    REQUIRE(std::regex_match(line, m, format));
    logged.push_back({m[1], m[2]});
  }
  return logged;
}

// The terminal's lines as a log file records them: stdout as info (debug for
// "debug: "), stderr's "warning: " and "error: " lines as those levels.
std::vector<Logged> terminal_as_logged(const CliResult& r) {
  std::vector<Logged> lines;
  for (const std::string& line : lines_of(r.out))
    lines.push_back(line.rfind("debug: ", 0) == 0 ? Logged{"debug", line.substr(7)} : Logged{"info", line});
  for (const std::string& line : lines_of(r.err)) {
    const size_t colon = line.find(": ");
    REQUIRE(colon != std::string::npos);
    lines.push_back({line.substr(0, colon), line.substr(colon + 2)});
  }
  return lines;
}

// The lines of `logged` at these levels, in order.
std::vector<Logged> at_levels(const std::vector<Logged>& logged, const std::vector<std::string>& levels) {
  std::vector<Logged> kept;
  for (const Logged& l : logged)
    if (std::find(levels.begin(), levels.end(), l.level) != levels.end()) kept.push_back(l);
  return kept;
}

// Both sides' lines of these levels agree, in order.
void require_same_lines(const std::vector<Logged>& terminal, const std::vector<Logged>& file,
                        const std::vector<std::string>& levels) {
  REQUIRE(at_levels(terminal, levels) == at_levels(file, levels));
}

std::string run_config(const std::string& data, const std::string& train_extra) {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "qkv_tokens": 8, "proj_tokens": 8,
              "ffn_tokens": 32},
    "train": {"steps": 12, "batch_size": 4, "warmup_steps": 2, "log_every": 4, "eval_every": 8, "eval_batches": 2,
              "checkpoint_every": 1, "keep_checkpoints": 3)" + train_extra + "}}";
}
}  // namespace

TEST_CASE("train.log holds every line the terminal showed, timestamped: progress, warnings and the error",
          "[logging][cli]") {
  TempDir dir("train_log");
  const std::string data = make_corpus(dir, 60000);
  // A run that diverges (lr 10, weight decay 10): progress, skipped steps and
  // rollbacks (warnings), then the error that stops it.
  write_file(dir.file("diverge.json"), run_config(data, R"(, "lr": 10, "weight_decay": 10, "max_bad_steps": 2)"));
  const CliResult r = cli({"train", "--config", dir.file("diverge.json"), "--out", dir.file("run"), "--threads", "1"});
  REQUIRE(r.code == 2);
  REQUIRE(r.out.rfind("model: tokenformer, ", 0) == 0);      // progress as it always looked
  REQUIRE(r.err.find("warning: step ") != std::string::npos);  // skipped steps
  REQUIRE(r.err.find("warning: rolled back to ") != std::string::npos);
  REQUIRE(lines_of(r.err).back().rfind("error: " + dir.file("run") + ": training diverged: ", 0) == 0);
  const auto logged = read_log(dir.file("run/train.log"));
  const auto terminal = terminal_as_logged(r);
  require_same_lines(terminal, logged, {"info"});
  require_same_lines(terminal, logged, {"warning", "error"});
  REQUIRE(logged.size() == terminal.size());
  REQUIRE(logged.back().level == "error");

  // Resumed: the same file goes on, with this invocation's lines after the last ones.
  write_file(dir.file("ok.json"), run_config(data, R"(, "lr": 3e-3)"));
  const CliResult first = cli({"train", "--config", dir.file("ok.json"), "--out", dir.file("ok"), "--steps", "12"});
  REQUIRE(first.code == 0);
  const CliResult again = cli({"train", "--resume", dir.file("ok")});
  REQUIRE(again.code == 0);
  std::vector<Logged> both = terminal_as_logged(first);
  for (const Logged& l : terminal_as_logged(again)) both.push_back(l);
  REQUIRE(read_log(dir.file("ok/train.log")) == both);
  REQUIRE(lines_of(again.out).back().rfind("done: 12 steps, ", 0) == 0);
}

TEST_CASE("Flags --quiet (warnings and errors only) and --verbose (debug lines) set the terminal, the log file keeps the "
          "progress",
          "[logging][cli]") {
  TempDir dir("quiet_verbose");
  const std::string data = make_corpus(dir, 60000);
  write_file(dir.file("run.json"), run_config(data, R"(, "lr": 3e-3)"));
  const CliResult normal = cli({"train", "--config", dir.file("run.json"), "--out", dir.file("normal")});
  const CliResult quiet = cli({"train", "--config", dir.file("run.json"), "--out", dir.file("quiet"), "--quiet"});
  REQUIRE(normal.code == 0);
  REQUIRE(quiet.code == 0);
  REQUIRE(quiet.out.empty());
  REQUIRE(quiet.err.empty());
  const auto quiet_logged = read_log(dir.file("quiet/train.log"));
  REQUIRE(quiet_logged.size() == lines_of(normal.out).size());  // every progress line, kept off the terminal
  REQUIRE(quiet_logged.front().text.rfind("model: tokenformer, ", 0) == 0);
  REQUIRE(quiet_logged.back().text.rfind("done: 12 steps, ", 0) == 0);

  const CliResult verbose = cli({"train", "--config", dir.file("run.json"), "--out", dir.file("verbose"), "--verbose"});
  REQUIRE(verbose.code == 0);
  REQUIRE(verbose.out.find("\ndebug: checkpoint " + dir.file("verbose/ckpt_1.h5") + " written") != std::string::npos);
  REQUIRE(lines_of(verbose.out).size() > lines_of(normal.out).size());
  const auto verbose_logged = read_log(dir.file("verbose/train.log"));
  REQUIRE(verbose_logged == terminal_as_logged(verbose));
  REQUIRE(verbose_logged.front() == Logged{"debug", "config: " + std::string(verbose_logged.front().text.substr(8))});

  // Every subcommand has both flags; together they are refused.
  for (const char* command : {"prepare", "train", "eval", "sample", "inspect", "grow", "experiment", "bench"}) {
    const CliResult help = cli({command, "--help"});
    INFO(command);
    REQUIRE(help.out.find("--quiet") != std::string::npos);
    REQUIRE(help.out.find("--verbose") != std::string::npos);
  }
  const CliResult both = cli({"eval", "--quiet", "--verbose"});
  REQUIRE(both.code == 2);
  REQUIRE(both.err == "error: tokengrow eval: --quiet and --verbose exclude each other (see --help)\n");
}

TEST_CASE("experiment.log holds every line the terminal showed, each stage's train.log its own lines",
          "[logging][experiment]") {
  TempDir dir("experiment_log");
  const std::string data = make_corpus(dir, 60000);
  write_file(dir.file("e.json"), R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16},
    "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 2, "log_every": 5, "eval_every": 5, "eval_batches": 2,
              "keep_checkpoints": 1},
    "seeds": [0],
    "recipes": [{"name": "ref", "stages": [
        {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 640},
        {"qkv_tokens": 8, "proj_tokens": 8, "ffn_tokens": 16, "match_scratch_tokens": 1280}]}],
    "baselines": {"frontier_budgets": [1], "stage_sizes": false, "transformer": false}})");
  const CliResult r = cli({"experiment", dir.file("e.json"), "--out", dir.file("out"), "--threads", "1"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto logged = read_log(dir.file("out/experiment.log"));
  REQUIRE(logged == terminal_as_logged(r));
  // Stage 1 of the recipe: the lines between its announcement and the next run's.
  const std::vector<std::string> out = lines_of(r.out);
  size_t begin = 0, end = 0;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].rfind("ref-seed0: stage 1 (", 0) == 0) begin = i + 1;
  for (size_t i = begin; i < out.size() && end == 0; ++i)
    if (out[i].rfind("[2/", 0) == 0) end = i;
  REQUIRE(begin > 0);
  REQUIRE(end > begin);
  std::vector<Logged> stage;
  for (size_t i = begin; i < end; ++i) stage.push_back({"info", out[i]});
  REQUIRE(read_log(dir.file("out/ref-seed0/stage1/train.log")) == stage);
  REQUIRE(stage.front().text.rfind("stage 1 from ", 0) == 0);
}
