#include "experiment/experiment_report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>

#include "core/config_reader.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "experiment/compute_saved.h"
#include "experiment/experiment_runner.h"
#include "train/metrics_log.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct RunResult {
  const PlannedRun* plan = nullptr;
  std::vector<MetricsRow> rows;            // all stages, in order
  std::vector<nlohmann::json> growth;      // growth events
  double final_val_loss = kNaN, total_flops = 0, base_flops = 0, wall_s = 0;
  int64_t tokens = 0, n_params = 0;
  // Compute saved (recipes only).
  double saved = kNaN, saved_without_base = kNaN, conservative = kNaN, conservative_without_base = kNaN;
  bool extrapolated = false;
};

std::vector<CurvePoint> val_curve(const std::vector<MetricsRow>& rows) {
  std::vector<CurvePoint> curve;
  for (const auto& r : rows)
    if (std::isfinite(r.val_loss)) curve.push_back({r.flops, r.val_loss});
  return curve;
}

std::string fmt(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pct(double v) { return std::isfinite(v) ? fmt(100.0 * v, "%+.1f%%") : "n/a"; }

}  // namespace

void write_experiment_report(const ExperimentConfig& config, const std::string& out_dir,
                             const std::vector<PlannedRun>& plan) {
  std::vector<RunResult> results;
  for (const PlannedRun& run : plan) {
    const std::string run_dir = (fs::path(out_dir) / run.name).string();
    if (!read_done_marker(run, run_dir)) continue;
    RunResult r;
    r.plan = &run;
    for (size_t k = 0; k < run.stage_dirs.size(); ++k) {
      // Every stage reported must have ended where the plan ends it (planned_run.h).
      const std::string metrics = (fs::path(run.stage_dirs[k]) / "metrics.h5").string();
      const auto rows = MetricsLog(metrics).read();
      if (rows.empty()) throw UserError(metrics + ": no rows, but " + run.name + " is marked done");
      check_stage_progress(run, run_dir, k, {rows.back().step, rows.back().flops, metrics}, true);
      r.rows.insert(r.rows.end(), rows.begin(), rows.end());
      if (k == 0) r.base_flops = rows.back().flops;
      if (k > 0) {
        const std::string event = (fs::path(run_dir) / ("growth_" + std::to_string(k) + ".json")).string();
        check_stage_progress(run, run_dir, k - 1, growth_event_progress(event), true);
        r.growth.push_back(read_json_file(event));
      }
    }
    for (const auto& row : r.rows)
      if (std::isfinite(row.val_loss)) r.final_val_loss = row.val_loss;
    r.total_flops = r.rows.back().flops;
    r.tokens = r.rows.back().tokens;
    r.wall_s = r.rows.back().wall_s;
    r.n_params = r.rows.back().n_params;
    if (run.kind != "recipe") r.base_flops = 0;
    results.push_back(std::move(r));
  }

  // Compute saved for each recipe run against the frontier of its seed.
  for (RunResult& r : results) {
    if (r.plan->kind != "recipe") continue;
    std::vector<CurvePoint> frontier;
    const RunResult* scratch_1x = nullptr;
    for (const RunResult& f : results)
      if (f.plan->kind == "frontier" && f.plan->seed == r.plan->seed) {
        frontier.push_back({f.total_flops, f.final_val_loss});
        if (f.plan->budget == 1.0) scratch_1x = &f;
      }
    const FrontierFlops needed = frontier_flops_for_loss(frontier, r.final_val_loss);
    r.extrapolated = needed.extrapolated;
    r.saved = 1.0 - r.total_flops / needed.flops;
    r.saved_without_base = 1.0 - (r.total_flops - r.base_flops) / needed.flops;
    if (scratch_1x) {
      const auto reach = flops_to_reach(val_curve(r.rows), scratch_1x->final_val_loss);
      if (reach) {
        r.conservative = 1.0 - *reach / scratch_1x->total_flops;
        r.conservative_without_base = 1.0 - (*reach - r.base_flops) / scratch_1x->total_flops;
      }
    }
  }

  // experiment.h5
  const fs::path h5_path = fs::path(out_dir) / "experiment.h5";
  write_sealed(h5_path.string(), "experiment", [&](H5File& file) {
    file.set_attr("/", "format", std::string("tokengrow-experiment"));
    file.set_attr("/", "config_file", config.file);
    file.set_attr("/", "description", config.description);
    for (const RunResult& r : results) {
      const std::string g = "runs/" + r.plan->name;
      write_metrics_columns(file, g + "/metrics", r.rows);
      for (const char* field : {"stage", "step", "tokens", "flops", "loss_before", "loss_after"}) {
        std::vector<double> values;
        for (const auto& e : r.growth) values.push_back(e[field].get<double>());
        file.write_doubles(g + "/growth_events/" + field, values);
      }
      file.set_attr(g, "kind", r.plan->kind);
      file.set_attr(g, "recipe", r.plan->recipe);
      file.set_attr(g, "seed", static_cast<int64_t>(r.plan->seed));
      file.set_attr(g, "budget", r.plan->budget);
      file.set_attr(g, "n_params", r.n_params);
      file.set_attr(g, "final_val_loss", r.final_val_loss);
      file.set_attr(g, "final_val_ppl", std::exp(r.final_val_loss));
      file.set_attr(g, "total_flops", r.total_flops);
      file.set_attr(g, "base_flops", r.base_flops);
      file.set_attr(g, "tokens", r.tokens);
      file.set_attr(g, "wall_s", r.wall_s);
      file.set_attr(g, "compute_saved", r.saved);
      file.set_attr(g, "compute_saved_without_base", r.saved_without_base);
      file.set_attr(g, "compute_saved_conservative", r.conservative);
      file.set_attr(g, "compute_saved_conservative_without_base", r.conservative_without_base);
      file.set_attr(g, "frontier_extrapolated", static_cast<int64_t>(r.extrapolated));
    }
  });

  // summary.csv
  std::ostringstream csv;
  csv << "name,kind,recipe,seed,budget,n_params,final_val_loss,final_val_ppl,total_flops,base_flops,tokens,wall_s,"
         "compute_saved,compute_saved_without_base,compute_saved_conservative,compute_saved_conservative_without_base,"
         "frontier_extrapolated\n";
  for (const RunResult& r : results)
    csv << r.plan->name << "," << r.plan->kind << "," << r.plan->recipe << "," << r.plan->seed << "," << r.plan->budget
        << "," << r.n_params << "," << r.final_val_loss << "," << std::exp(r.final_val_loss) << "," << r.total_flops
        << "," << r.base_flops << "," << r.tokens << "," << r.wall_s << "," << r.saved << "," << r.saved_without_base
        << "," << r.conservative << "," << r.conservative_without_base << "," << (r.extrapolated ? 1 : 0) << "\n";
  write_file_durably((fs::path(out_dir) / "summary.csv").string(), csv.str());

  // summary.md
  std::ostringstream md;
  md << "# Experiment summary: " << config.file << "\n\n";
  if (!config.description.empty()) md << config.description << "\n\n";
  md << results.size() << " of " << plan.size() << " runs finished.\n\n";
  md << "## Runs\n\n| run | kind | params | final val loss | val ppl | FLOPs | tokens | wall s |\n"
        "|---|---|---|---|---|---|---|---|\n";
  for (const RunResult& r : results)
    md << "| " << r.plan->name << " | " << r.plan->kind << " | " << r.n_params << " | " << fmt(r.final_val_loss) << " | "
       << fmt(std::exp(r.final_val_loss), "%.3f") << " | " << fmt(r.total_flops, "%.3g") << " | " << r.tokens << " | "
       << fmt(r.wall_s, "%.0f") << " |\n";
  md << "\n## Compute saved by each recipe (mean ± std over seeds)\n\n"
        "`vs frontier`: 1 - grown FLOPs / FLOPs the scratch frontier (final size, budgets "
     << "x the first recipe's FLOPs) needs for the grown final loss, interpolated in log FLOPs. "
        "`conservative`: 1 - FLOPs at which the grown curve reaches the 1x scratch run's final loss / that run's FLOPs. "
        "`incl. base` counts every stage; `excl. base` leaves out the first stage's training.\n\n"
        "| recipe | seeds | final val loss | vs frontier, incl. base | excl. base | conservative, incl. base | excl. base |\n"
        "|---|---|---|---|---|---|---|\n";
  for (const RecipeSpec& recipe : config.recipes) {
    std::vector<double> loss, s, sb, c, cb;
    bool extrapolated = false;
    for (const RunResult& r : results)
      if (r.plan->kind == "recipe" && r.plan->recipe == recipe.name) {
        loss.push_back(r.final_val_loss);
        s.push_back(r.saved);
        sb.push_back(r.saved_without_base);
        c.push_back(r.conservative);
        cb.push_back(r.conservative_without_base);
        extrapolated |= r.extrapolated;
      }
    auto cell = [](const std::vector<double>& v, bool percent) {
      const MeanSpread m = mean_spread(v);
      if (m.n == 0) return std::string("n/a");
      return percent ? pct(m.mean) + " ± " + fmt(100.0 * m.std, "%.1f") : fmt(m.mean) + " ± " + fmt(m.std);
    };
    md << "| " << recipe.name << (extrapolated ? " (frontier extrapolated)" : "") << " | " << loss.size() << " | "
       << cell(loss, false) << " | " << cell(s, true) << " | " << cell(sb, true) << " | " << cell(c, true) << " | "
       << cell(cb, true) << " |\n";
  }
  write_file_durably((fs::path(out_dir) / "summary.md").string(), md.str());
}

}  // namespace tg
