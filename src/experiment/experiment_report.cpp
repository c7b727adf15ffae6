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
#include "experiment/corpus_losses_report.h"
#include "experiment/plan.h"
#include "experiment/report_format.h"
#include "experiment/run_result.h"
#include "experiment/scaling_report.h"
#include "train/metrics_log.h"

namespace tg {

namespace fs = std::filesystem;

namespace {

std::vector<CurvePoint> val_curve(const std::vector<MetricsRow>& rows) {
  std::vector<CurvePoint> curve;
  for (const auto& r : rows)
    if (std::isfinite(r.val_loss)) curve.push_back({r.flops, r.val_loss});
  return curve;
}

using report::fmt;
using report::mean_std;

// Compute saved for each recipe run against the same-size frontier of its seed.
void add_saved_vs_frontier(std::vector<RunResult>& results) {
  for (RunResult& r : results) {
    if (r.plan->kind() != RunKind::Recipe) continue;
    std::vector<CurvePoint> frontier;
    const RunResult* scratch_1x = nullptr;
    for (const RunResult& f : results)
      if (const FrontierRun* budget = f.plan->as<FrontierRun>(); budget && f.plan->seed == r.plan->seed) {
        frontier.push_back({f.total_flops, f.final_val_loss});
        if (budget->budget == 1.0) scratch_1x = &f;
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
}

// A run's plan as experiment.h5's attributes and summary.csv's columns: every run has
// every column, "" or 0 where its kind has no such field.
struct PlanColumns {
  std::string kind, recipe, size, budget_name;
  double budget = 0, lr = 0;
};

PlanColumns plan_columns(const PlannedRun& run) {
  PlanColumns c;
  c.kind = kRunKindNames.to_string(run.kind());
  if (const RecipeRun* recipe = run.as<RecipeRun>()) c.recipe = recipe->recipe;
  if (const FrontierRun* frontier = run.as<FrontierRun>()) c.budget = frontier->budget;
  if (const ScalingPoint* point = run.as<ScalingPoint>()) {
    c.size = point->size;
    c.budget_name = point->budget_name;
    c.lr = point->lr;
  }
  return c;
}

void write_h5(const ExperimentConfig& config, const std::string& out_dir, const std::vector<RunResult>& results,
              const ScalingSummary& scaling) {
  const fs::path h5_path = fs::path(out_dir) / "experiment.h5";
  write_sealed(h5_path.string(), "experiment", [&](H5File& file) {
    file.set_attr("/", "format", std::string("tokengrow-experiment"));
    file.set_attr("/", "config_file", config.file);
    file.set_attr("/", "description", config.description);
    for (const RunResult& r : results) {
      const std::string g = "runs/" + r.plan->name;
      const PlanColumns c = plan_columns(*r.plan);
      write_metrics_columns(file, g + "/metrics", r.rows);
      for (const char* field : {"stage", "step", "tokens", "flops", "loss_before", "loss_after"}) {
        std::vector<double> values;
        for (const auto& e : r.growth) values.push_back(e[field].get<double>());
        file.write_doubles(g + "/growth_events/" + field, values);
      }
      file.set_attr(g, "kind", c.kind);
      file.set_attr(g, "recipe", c.recipe);
      file.set_attr(g, "seed", static_cast<int64_t>(r.plan->seed));
      file.set_attr(g, "budget", c.budget);
      file.set_attr(g, "n_params", r.n_params);
      file.set_attr(g, "final_val_loss", r.final_val_loss);
      file.set_attr(g, "final_val_ppl", std::exp(r.final_val_loss));
      file.set_attr(g, "final_val_bpb", r.final_val_bpb);
      file.set_attr(g, "total_flops", r.total_flops);
      file.set_attr(g, "base_flops", r.base_flops);
      file.set_attr(g, "tokens", r.tokens);
      file.set_attr(g, "wall_s", r.wall_s);
      file.set_attr(g, "compute_saved", r.saved);
      file.set_attr(g, "compute_saved_without_base", r.saved_without_base);
      file.set_attr(g, "compute_saved_conservative", r.conservative);
      file.set_attr(g, "compute_saved_conservative_without_base", r.conservative_without_base);
      file.set_attr(g, "frontier_extrapolated", static_cast<int64_t>(r.extrapolated));
      file.set_attr(g, "size", c.size);
      file.set_attr(g, "budget_name", c.budget_name);
      file.set_attr(g, "lr", c.lr);
      file.set_attr(g, "tokens_per_param", r.tokens_per_param());
      file.set_attr(g, "compute_saved_vs_envelope", r.saved_vs_envelope);
      file.set_attr(g, "compute_saved_vs_law", r.saved_vs_law);
      file.set_attr(g, "envelope_loss_at_flops", r.envelope_loss_at_flops);
      file.set_attr(g, "envelope_extrapolated", static_cast<int64_t>(r.envelope_extrapolated));
    }
    write_scaling_h5(file, scaling);
  });
}

void write_csv(const std::string& out_dir, const std::vector<RunResult>& results, const ScalingSummary& scaling) {
  std::ostringstream csv;
  csv << "name,kind,recipe,seed,budget,n_params,final_val_loss,final_val_ppl,total_flops,base_flops,tokens,wall_s,"
         "compute_saved,compute_saved_without_base,compute_saved_conservative,compute_saved_conservative_without_base,"
         "frontier_extrapolated,size,budget_name,lr,tokens_per_param,compute_saved_vs_envelope,compute_saved_vs_law,"
         "envelope_loss_at_flops,envelope_extrapolated,final_val_bpb\n";
  for (const RunResult& r : results) {
    const PlanColumns c = plan_columns(*r.plan);
    csv << r.plan->name << "," << c.kind << "," << c.recipe << "," << r.plan->seed << "," << c.budget
        << "," << r.n_params << "," << r.final_val_loss << "," << std::exp(r.final_val_loss) << "," << r.total_flops
        << "," << r.base_flops << "," << r.tokens << "," << r.wall_s << "," << r.saved << "," << r.saved_without_base
        << "," << r.conservative << "," << r.conservative_without_base << "," << (r.extrapolated ? 1 : 0) << ","
        << c.size << "," << c.budget_name << "," << c.lr << "," << r.tokens_per_param() << ","
        << r.saved_vs_envelope << "," << r.saved_vs_law << "," << r.envelope_loss_at_flops << ","
        << (r.envelope_extrapolated ? 1 : 0) << "," << r.final_val_bpb << "\n";
  }
  write_file_durably((fs::path(out_dir) / "summary.csv").string(), csv.str());
  if (!scaling.sizes.empty()) write_file_durably((fs::path(out_dir) / "scaling.csv").string(), isoflop_csv(scaling));
}

void write_markdown(const ExperimentConfig& config, const std::string& out_dir, size_t planned,
                    const std::vector<RunResult>& results, const ScalingSummary& scaling,
                    const std::vector<CorpusLoss>& corpus_losses) {
  std::ostringstream md;
  md << "# Experiment summary: " << config.file << "\n\n";
  if (!config.description.empty()) md << config.description << "\n\n";
  md << results.size() << " of " << planned << " runs finished.\n\n";
  md << "## Runs\n\n| run | kind | params | final val loss | val ppl | val bits/byte | FLOPs | tokens | tokens/param "
        "| wall s |\n|---|---|---|---|---|---|---|---|---|---|\n";
  for (const RunResult& r : results)
    md << "| " << r.plan->name << " | " << kRunKindNames.to_string(r.plan->kind()) << " | " << r.n_params << " | " << fmt(r.final_val_loss) << " | "
       << fmt(std::exp(r.final_val_loss), "%.3f") << " | " << fmt(r.final_val_bpb) << " | " << fmt(r.total_flops, "%.3g")
       << " | " << r.tokens << " | " << fmt(r.tokens_per_param(), "%.1f") << " | " << fmt(r.wall_s, "%.0f") << " |\n";
  md << "\n" << scaling_markdown(config, scaling, results);
  md << corpus_losses_markdown(config, corpus_losses);
  md << "## Compute saved by each recipe against the same-size frontier (mean ± std over seeds)\n\n"
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
      if (const RecipeRun* of = r.plan->as<RecipeRun>(); of && of->recipe == recipe.name) {
        loss.push_back(r.final_val_loss);
        s.push_back(r.saved);
        sb.push_back(r.saved_without_base);
        c.push_back(r.conservative);
        cb.push_back(r.conservative_without_base);
        extrapolated |= r.extrapolated;
      }
    const auto cell = mean_std;
    md << "| " << recipe.name << (extrapolated ? " (frontier extrapolated)" : "") << " | " << loss.size() << " | "
       << cell(loss, false) << " | " << cell(s, true) << " | " << cell(sb, true) << " | " << cell(c, true) << " | "
       << cell(cb, true) << " |\n";
  }
  write_file_durably((fs::path(out_dir) / "summary.md").string(), md.str());
}

}  // namespace

void write_experiment_report(const ExperimentConfig& config, const std::string& out_dir,
                             const Plan& plan, int64_t bootstrap_samples) {
  std::vector<RunResult> results = read_finished_runs(out_dir, plan);

  add_saved_vs_frontier(results);
  const ScalingSummary scaling = summarize_scaling(config, results, bootstrap_samples);
  add_saved_vs_envelope(scaling, results);

  write_h5(config, out_dir, results, scaling);
  write_csv(out_dir, results, scaling);
  const std::vector<CorpusLoss> corpus_losses = read_corpus_losses(out_dir, results);
  if (!corpus_losses.empty())
    write_file_durably((fs::path(out_dir) / "corpus_losses.csv").string(), corpus_losses_csv(corpus_losses));
  write_markdown(config, out_dir, plan.runs.size(), results, scaling, corpus_losses);
}

}  // namespace tg
