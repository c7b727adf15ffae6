#include "experiment/plan_identity.h"

#include <cctype>
#include <filesystem>
#include <sstream>

#include "core/config_reader.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
// JSON pointer "/1/train/lr" -> "stages[1].train.lr".
std::string plan_key(const std::string& pointer) {
  std::string key = "stages";
  std::stringstream parts(pointer.substr(1));
  for (std::string part; std::getline(parts, part, '/');)
    key += std::isdigit(static_cast<unsigned char>(part[0])) ? "[" + part + "]" : "." + part;
  return key;
}

// A key that a newer binary adds to a run config (say train.max_rollbacks) is absent
// from plans written before it. Such an addition to a stage is no difference when it
// holds the key's default (what the old binary trained with); with another value, or
// anything else changed, it is.
bool new_key_at_default(const nlohmann::json& before, const nlohmann::json& op) {
  if (op["op"] != "add") return false;
  const std::string path = op["path"].get<std::string>();
  const nlohmann::json::json_pointer pointer(path);
  if (!before.contains(pointer.parent_pointer()) || !before.at(pointer.parent_pointer()).is_object()) return false;
  // "/<stage>/train/max_rollbacks" -> "/train/max_rollbacks" in a default stage's plan.
  const size_t after_stage = path.find('/', 1);
  if (after_stage == std::string::npos) return false;
  nlohmann::json defaults = RunConfig{}.to_json();
  defaults["growth"] = GrowthOptions{}.to_json();
  const nlohmann::json::json_pointer in_stage(path.substr(after_stage));
  return defaults.contains(in_stage) && defaults.at(in_stage) == op["value"];
}
}  // namespace

nlohmann::json plan_json(const PlannedRun& run) {
  nlohmann::json stages = nlohmann::json::array();
  for (size_t k = 0; k < run.stages.size(); ++k) {
    nlohmann::json stage = run.stages[k].to_json();
    stage["train"].erase("threads");
    stage["train"].erase("recompute");
    if (k > 0) stage["growth"] = run.growth[k].to_json();
    stages.push_back(std::move(stage));
  }
  return stages;
}

std::string plan_difference(const nlohmann::json& before, const nlohmann::json& now) {
  std::string path;
  bool differs = false;
  for (const nlohmann::json& op : nlohmann::json::diff(before, now))
    if (!new_key_at_default(before, op)) {
      path = op["path"].get<std::string>();
      differs = true;
      break;
    }
  if (!differs) return "";
  if (path.empty()) return "the plan: " + before.dump().substr(0, 80) + " before, a list of stages now";
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/-") == 0) {  // appended to an array: name its index
    const nlohmann::json::json_pointer parent(path.substr(0, path.size() - 2));
    path = path.substr(0, path.size() - 1) + std::to_string(before.at(parent).size());
  }
  const nlohmann::json::json_pointer pointer(path);
  auto at = [&](const nlohmann::json& j) { return j.contains(pointer) ? j.at(pointer).dump() : std::string("absent"); };
  return plan_key(path) + ": " + at(before) + " before, " + at(now) + " now";
}

void record_plan(const PlannedRun& run, const std::string& run_dir) {
  const std::string file = plan_file(run_dir);
  if (!fs::exists(file)) write_json_durably(file, plan_json(run));
}

void check_plan(const PlannedRun& run, const std::string& run_dir, const std::string& config_file) {
  const std::string file = plan_file(run_dir);
  if (!fs::exists(file)) return;  // not started (or finished before plans were recorded)
  const std::string difference = plan_difference(read_json_file(file), plan_json(run));
  if (!difference.empty())
    throw UserError(run_dir + ": this run was started with another plan than " + config_file + " gives now (" +
                    difference + "); restore the config, or write the experiment to another --out");
}

}  // namespace tg
