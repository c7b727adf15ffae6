#pragma once
// The scaling sweep's results (experiment_config.h `scaling`), from its finished runs:
//
//   IsoFLOP table   loss[b][s]: final validation loss of size s at budget b, the best
//                   of its LRs (by the mean over seeds), mean over seeds.
//   envelope        per budget: the best size's loss (the IsoFLOP minimum), and the
//                   parabola vertex in ln N around it (Chinchilla approach 2).
//   law             L(C) = E + A C^-alpha fitted to the envelope, with bootstrap
//                   intervals over the IsoFLOP cells (each the mean of its seeds;
//                   scaling_fit.h).
//   parametric      L(N, D) = E + A/N^a + B/D^b over every best-LR run (approach 3).
//   vs envelope     for each recipe run of final loss L* and FLOPs F:
//                     saved_vs_envelope = 1 - F / F_env(L*), F_env read off the envelope
//                       interpolated in log FLOPs (compute_saved.h; flagged outside it)
//                     saved_vs_law      = 1 - F / F_law(L*), F_law = (A / (L* - E))^(1/alpha)
//                     envelope_loss_at_flops = E + A F^-alpha (the law at equal compute)
#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_file.h"
#include "experiment/compute_saved.h"
#include "experiment/experiment_config.h"
#include "experiment/run_result.h"
#include "experiment/scaling_fit.h"

namespace tg {

struct ScalingSummary {
  std::vector<std::string> sizes, budgets;              // config order
  std::vector<std::vector<double>> loss, best_lr;       // [budget][size]; NaN: not finished
  std::vector<std::vector<double>> flops, n_params, tokens;
  std::vector<std::vector<int64_t>> seeds;              // runs averaged in each cell
  std::vector<IsoFlopMinimum> minima;                   // per budget (flops 0: no finished run)
  std::vector<CurvePoint> envelope;                     // budgets with a minimum, in FLOPs order
  std::vector<ScalingRun> fit_runs;                     // best-LR runs, one per size, budget and seed
  std::vector<int64_t> fit_budget;                      // budget index of each fit run
  std::vector<ScalingRun> cell_runs;                    // one per finished cell: the seeds' mean
  std::vector<int64_t> cell_budget;                     // budget index of each cell
  PowerLawFit law;
  PowerLawIntervals law_intervals;
  ParametricFit parametric;
  ParametricIntervals parametric_intervals;
  int64_t bootstrap_samples = 0;
};

// bootstrap_samples: resamples for the intervals (0: none, as in the reports written
// between runs, which would otherwise spend seconds refitting after every run).
inline constexpr int64_t kBootstrapSamples = 400;
ScalingSummary summarize_scaling(const ExperimentConfig& config, const std::vector<RunResult>& results,
                                 int64_t bootstrap_samples);

// Fills the envelope figures of every recipe run (no-op without an envelope).
void add_saved_vs_envelope(const ScalingSummary& summary, std::vector<RunResult>& results);

// summary.md sections: the IsoFLOP table, the envelope and laws, growth against the
// envelope, and the best growth timing of every timing sweep.
std::string scaling_markdown(const ExperimentConfig& config, const ScalingSummary& summary,
                             const std::vector<RunResult>& results);

// scaling.csv: budget, size, n_params, tokens, tokens_per_param, flops, best_lr, seeds, loss, is_minimum.
std::string isoflop_csv(const ScalingSummary& summary);

// experiment.h5 /scaling: the table as datasets, the fits and intervals as attributes.
void write_scaling_h5(H5File& file, const ScalingSummary& summary);

}  // namespace tg
