#include "experiment/experiment_dir.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "core/error.h"
#include "experiment/planned_run.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
constexpr const char* kMarker = ".experiment";

bool present(const fs::path& path) {  // false also when it cannot be checked
  std::error_code ec;
  return fs::exists(path, ec);
}

// Marked, or written before the marker: the runner's lock beside its experiment.h5.
bool is_experiment_dir(const fs::path& dir) {
  return present(dir / kMarker) || (present(dir / ".lock") && present(dir / "experiment.h5"));
}

// A run of an experiment written before the marker: plan.json below the runner's lock.
bool is_experiment_run_dir(const fs::path& dir) {
  return present(plan_file(dir.string())) && present(dir.parent_path() / ".lock");
}
}  // namespace

void mark_experiment_dir(const std::string& out_dir, const std::string& config_file) {
  const fs::path marker = fs::path(out_dir) / kMarker;
  if (fs::exists(marker)) return;
  const nlohmann::json j = {{"format", "tokengrow-experiment"}, {"config", config_file}};
  write_json_durably(marker.string(), j);
}

std::string enclosing_experiment_dir(const std::string& dir) {
  std::error_code ec;
  fs::path path = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  if (ec) return "";
  for (fs::path at = path;; at = at.parent_path()) {
    if (is_experiment_dir(at)) return at.string();
    if (is_experiment_run_dir(at)) return at.parent_path().string();
    if (at == at.parent_path()) return "";
  }
}

void refuse_run_inside_experiment(const std::string& command, const std::string& dir) {
  const std::string experiment = enclosing_experiment_dir(dir);
  if (experiment.empty()) return;
  throw UserError(command + ": " + dir + " is inside the experiment directory " + experiment +
                  ", whose runs only tokengrow experiment trains (each stage must match its run's plan.json); "
                  "re-run the experiment to continue it, or train a copy elsewhere (--resume <checkpoint> --out "
                  "a directory outside " + experiment + ")");
}

}  // namespace tg
