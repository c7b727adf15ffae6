#include "experiment/run_result.h"

#include <cmath>
#include "core/config_reader.h"
#include "core/error.h"
#include "train/run_directory.h"

namespace tg {

std::vector<RunResult> read_finished_runs(const std::string& out_dir, const Plan& plan) {
  std::vector<RunResult> results;
  for (const PlannedRun& run : plan.runs) {
    const std::string run_dir = tg::run_dir(out_dir, run);
    if (!read_done_marker(run, run_dir)) continue;
    RunResult r;
    r.plan = &run;
    for (size_t k = 0; k < run.stage_dirs.size(); ++k) {
      // Every stage reported must have ended where the plan ends it (planned_run.h).
      const std::string metrics = metrics_log_path(run.stage_dirs[k]);
      const auto rows = MetricsLog(metrics).read();
      if (rows.empty()) throw UserError(metrics + ": no rows, but " + run.name + " is marked done");
      check_stage_progress(run, run_dir, k, {rows.back().step, rows.back().flops, metrics}, true);
      r.rows.insert(r.rows.end(), rows.begin(), rows.end());
      if (k == 0) r.base_flops = rows.back().flops;
      if (k > 0) {
        const std::string event = growth_record_file(run_dir, k);
        check_stage_progress(run, run_dir, k - 1, growth_event_progress(event), true);
        r.growth.push_back(read_json_file(event));
      }
    }
    for (const auto& row : r.rows)
      if (std::isfinite(row.val_loss)) {
        r.final_val_loss = row.val_loss;
        r.final_val_bpb = row.val_bpb;  // NaN in logs from before val_bpb
      }
    r.total_flops = r.rows.back().flops;
    r.tokens = r.rows.back().tokens;
    r.wall_s = r.rows.back().wall_s;
    r.n_params = r.rows.back().n_params;
    if (run.kind() != RunKind::Recipe) r.base_flops = 0;
    results.push_back(std::move(r));
  }

  return results;
}

}  // namespace tg
