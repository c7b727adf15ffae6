#pragma once
// A finished run of an experiment as the report reads it back: its metrics (all stages),
// growth events and final figures, checked against its plan (planned_run.h).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiment/plan.h"
#include "train/metrics_log.h"

namespace tg {

struct RunResult {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const PlannedRun* plan = nullptr;
  std::vector<MetricsRow> rows;        // all stages, in order
  std::vector<nlohmann::json> growth;  // growth events
  double final_val_loss = kNaN, final_val_bpb = kNaN, total_flops = 0, base_flops = 0, wall_s = 0;
  int64_t tokens = 0, n_params = 0;
  // Compute saved (recipes only): against the same-size frontier ...
  double saved = kNaN, saved_without_base = kNaN, conservative = kNaN, conservative_without_base = kNaN;
  bool extrapolated = false;
  // ... and against the scaling envelope (scaling_report.h): interpolated and by the fitted law.
  double saved_vs_envelope = kNaN, saved_vs_law = kNaN, envelope_loss_at_flops = kNaN;
  bool envelope_extrapolated = false;

  double tokens_per_param() const { return static_cast<double>(tokens) / static_cast<double>(n_params); }
};

// The runs of `plan` that are marked done in out_dir, read and checked.
std::vector<RunResult> read_finished_runs(const std::string& out_dir, const Plan& plan);

}  // namespace tg
