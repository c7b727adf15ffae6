#include "train/run_directory.h"

#include <algorithm>

#include "core/error.h"

namespace tg {

namespace fs = std::filesystem;

RunDirectory::RunDirectory(const std::string& dir) : path_(dir), lock_(dir) {}

std::string RunDirectory::latest_path() const { return (fs::path(path_) / "latest.h5").string(); }

std::string RunDirectory::metrics_path() const { return (fs::path(path_) / "metrics.h5").string(); }

std::string RunDirectory::checkpoint_path(int64_t step) const {
  return (fs::path(path_) / ("ckpt_" + std::to_string(step) + ".h5")).string();
}

std::vector<StoredCheckpoint> RunDirectory::checkpoints() const {
  std::vector<StoredCheckpoint> found;
  for (const auto& entry : fs::directory_iterator(path_)) {
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

RunStart RunDirectory::prepare_start(const std::string& start_checkpoint, std::ostream& out) const {
  const fs::path latest = latest_path();
  std::error_code ec;
  const bool resume = !start_checkpoint.empty() && fs::exists(latest) &&
                      fs::equivalent(fs::path(start_checkpoint), latest, ec);
  if (resume) return RunStart::Resume;
  if (fs::exists(latest))
    throw UserError(path_ + ": already holds a run (latest.h5); resume it with --resume " + path_ +
                    " or choose another --out");
  // Metrics without any checkpoint: an earlier start was stopped before its first
  // checkpoint. Nothing of it can be resumed, so this start replaces its log.
  if (fs::exists(metrics_path())) {
    out << path_ << ": no checkpoint from an earlier, interrupted start; starting over\n";
    fs::remove(metrics_path());
  }
  return start_checkpoint.empty() ? RunStart::Fresh : RunStart::NewStage;
}

}  // namespace tg
