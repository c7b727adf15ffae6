#include "experiment/planned_run.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/config_reader.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace tg {

namespace {
// FLOPs are sums of one double per step: equal to the planned product up to
// rounding (n additions: relative error below n * 2^-53), far inside this.
constexpr double kFlopsRelativeTolerance = 1e-9;

bool same_flops(double planned, double found) {
  return std::abs(found - planned) <= kFlopsRelativeTolerance * std::max(std::abs(planned), 1.0);
}

std::string flops_text(double flops) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", flops);
  return buf;
}

nlohmann::json done_json(const PlannedRun& run) {
  return {{"name", run.name}, {"kind", kRunKindNames.to_string(run.kind())}, {"seed", run.seed}};
}

// A JSON value as text, cut to `limit` characters for an error message.
std::string shortened(const nlohmann::json& j, size_t limit = 200) {
  std::string text = j.dump();
  return text.size() <= limit ? text : text.substr(0, limit) + "...";
}
}  // namespace

std::string run_dir(const std::string& out_dir, const PlannedRun& run) {
  return (std::filesystem::path(out_dir) / run.name).string();
}

namespace {
std::string file_in(const std::string& run_dir, const std::string& name) {
  return (std::filesystem::path(run_dir) / name).string();
}
}  // namespace

std::string plan_file(const std::string& run_dir) { return file_in(run_dir, "plan.json"); }
std::string done_file(const std::string& run_dir) { return file_in(run_dir, "done.json"); }
std::string grown_model_file(const std::string& run_dir, size_t k) {
  return file_in(run_dir, "grown_" + std::to_string(k) + ".h5");
}
std::string growth_record_file(const std::string& run_dir, size_t k) {
  return file_in(run_dir, "growth_" + std::to_string(k) + ".json");
}
std::string corpus_losses_file(const std::string& run_dir, size_t k) {
  return file_in(run_dir, "corpus_losses_" + std::to_string(k) + ".json");
}

int64_t PlannedRun::end_step(int64_t k) const {
  int64_t step = 0;
  for (int64_t j = 0; j <= k; ++j) step += stages[static_cast<size_t>(j)].train.steps;
  return step;
}

double PlannedRun::end_flops(int64_t k) const {
  double flops = 0;
  for (int64_t j = 0; j <= k; ++j)
    flops += static_cast<double>(stages[static_cast<size_t>(j)].train.steps) * stage_step_flops[static_cast<size_t>(j)];
  return flops;
}

StageProgress growth_event_progress(const std::string& path) {
  const nlohmann::json event = read_json_file(path);
  if (!event.is_object() || !event.contains("step") || !event["step"].is_number_integer() || !event.contains("flops") ||
      !event["flops"].is_number())
    throw UserError(path + ": damaged growth record (expected integer \"step\" and number \"flops\")");
  return {event["step"].get<int64_t>(), event["flops"].get<double>(), path};
}

void check_stage_progress(const PlannedRun& run, const std::string& run_dir, size_t k, const StageProgress& found,
                          bool finished) {
  const int64_t stage = static_cast<int64_t>(k);
  const int64_t start_step = run.end_step(stage - 1), end_step = run.end_step(stage);
  const bool step_ok = finished ? found.step == end_step : found.step >= start_step && found.step <= end_step;
  const int64_t step_in_plan = step_ok ? found.step : end_step;
  const double planned_flops =
      run.end_flops(stage - 1) + static_cast<double>(step_in_plan - start_step) * run.stage_step_flops[k];
  if (step_ok && same_flops(planned_flops, found.flops)) return;
  const std::string plan = plan_file(run_dir);
  const std::string planned =
      finished || !step_ok
          ? "ends stage " + std::to_string(k) + " at step " + std::to_string(end_step) + " with " + flops_text(planned_flops) +
                " FLOPs" + (finished ? "" : " (starting at step " + std::to_string(start_step) + ")")
          : "has " + flops_text(planned_flops) + " FLOPs at step " + std::to_string(found.step) + " of stage " +
                std::to_string(k);
  throw UserError(run.name + ": stage " + std::to_string(k) + " (" + found.source + ") is at step " +
                  std::to_string(found.step) + " with " + flops_text(found.flops) + " FLOPs, but its plan (" + plan +
                  ") " + planned + "; it was trained outside this experiment (e.g. tokengrow train on a stage "
                  "directory); restore that stage or write the experiment to another --out");
}

void write_done_marker(const PlannedRun& run, const std::string& run_dir) {
  write_json_durably(done_file(run_dir), done_json(run));
}

bool read_done_marker(const PlannedRun& run, const std::string& run_dir) {
  const std::string path = done_file(run_dir);
  if (!std::filesystem::exists(path)) return false;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json marker = nlohmann::json::parse(text.str(), nullptr, false);
  const nlohmann::json expected = done_json(run);
  // (nlohmann: a discarded, unparsable value is neither == nor != anything.)
  if (!in || marker.is_discarded() || !(marker == expected))
    throw UserError(path + ": damaged done marker (expected " + expected.dump() + ", found " +
                    (marker.is_discarded() ? std::to_string(text.str().size()) + " bytes that are not JSON" : shortened(marker)) +
                    "); delete it and re-run the experiment: the run is then checked against its plan and marked done again");
  return true;
}

std::vector<bool> done_runs(const std::vector<PlannedRun>& runs, const std::string& out_dir) {
  std::vector<bool> done;
  for (const PlannedRun& run : runs) done.push_back(read_done_marker(run, run_dir(out_dir, run)));
  return done;
}

}  // namespace tg
