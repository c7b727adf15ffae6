#include "train/run_directory.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "core/sealed_file.h"
#include "train/metrics_log.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
// A metrics log in a directory without checkpoints (RunDirectory::prepare_start):
// UserError unless it is what a start stopped before its first checkpoint leaves,
// no metrics.h5 and a journal of at most that start's first row.
void refuse_earlier_results(const MetricsLog& metrics) {
  const std::vector<MetricsRow> rows = metrics.read();
  const bool finished = fs::exists(metrics.path());
  if (!finished && rows.size() <= 1) return;
  const std::string file = fs::exists(metrics.journal_path()) ? metrics.journal_path() : metrics.path();
  const std::string held = rows.empty() ? "" : line(" (", rows.size(), " rows, steps ", rows.front().step, " to ",
                                                     rows.back().step, ")");
  throw UserError(file + ": the metrics of an earlier run" + held +
                  ", with no checkpoint left to resume it from; move the file away or choose another --out");
}
}  // namespace

std::vector<StoredCheckpoint> list_checkpoints(const std::string& dir) {
  std::vector<StoredCheckpoint> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("ckpt_", 0) != 0 || entry.path().extension() != ".h5") continue;
    try {
      found.push_back({std::stoll(name.substr(5)), entry.path()});
    } catch (const std::exception&) {  // ckpt_<not a number>.h5: not ours
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.step < b.step; });
  return found;
}

std::string latest_checkpoint_path(const std::string& dir) { return (fs::path(dir) / "latest.h5").string(); }

std::string metrics_log_path(const std::string& dir) { return (fs::path(dir) / "metrics.h5").string(); }

std::string resume_point(const std::string& dir) {
  const std::string latest = latest_checkpoint_path(dir);
  if (fs::exists(latest)) return latest;
  const auto stored = list_checkpoints(dir);
  for (auto it = stored.rbegin(); it != stored.rend(); ++it)
    if (seal_problem(it->path.string(), "checkpoint").empty()) return it->path.string();
  return "";
}

RunDirectory::RunDirectory(const std::string& dir, Access access) : path_(dir) {
  if (access == Access::Own) lock_.emplace(dir);
}

std::vector<std::string> RunDirectory::removed_temp_files() const {
  return lock_ ? lock_->removed_temp_files() : std::vector<std::string>{};
}

std::string RunDirectory::latest_path() const { return latest_checkpoint_path(path_); }

std::string RunDirectory::metrics_path() const { return metrics_log_path(path_); }

std::string RunDirectory::log_path() const { return (fs::path(path_) / "train.log").string(); }

std::string RunDirectory::checkpoint_path(int64_t step) const {
  return (fs::path(path_) / ("ckpt_" + std::to_string(step) + ".h5")).string();
}

RunStart RunDirectory::prepare_start(const std::string& start_checkpoint, spdlog::logger& log) const {
  const std::string resume_from = resume_point(path_);
  log.debug(line(path_, ": resume point ", resume_from.empty() ? "none" : resume_from));
  std::error_code ec;
  if (!start_checkpoint.empty() && !resume_from.empty() && fs::equivalent(start_checkpoint, resume_from, ec))
    return RunStart::Resume;
  if (fs::exists(latest_path()))
    throw UserError(path_ + ": already holds a run (latest.h5); resume it with --resume " + path_ +
                    " or choose another --out");
  if (!resume_from.empty())
    throw UserError(path_ + ": holds checkpoints but no latest.h5 (the newest sound one is " + resume_from +
                    "); resume from it with --resume " + path_ + ", or choose another --out");
  if (const auto stored = checkpoints(); !stored.empty())
    throw UserError(path_ + ": holds only damaged checkpoints (" + stored.back().path.string() + ": " +
                    seal_problem(stored.back().path.string(), "checkpoint") +
                    "); move them away or choose another --out");
  if (MetricsLog metrics(metrics_path()); metrics.exists()) {
    refuse_earlier_results(metrics);
    log.info(line(path_, ": no checkpoint from an earlier, interrupted start; starting over"));
    metrics.remove();
  }
  return start_checkpoint.empty() ? RunStart::Fresh : RunStart::NewStage;
}

}  // namespace tg
