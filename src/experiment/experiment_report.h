#pragma once
// The results of an experiment, gathered from its finished runs:
//   experiment.h5  /runs/<name>/metrics/<column>      validation and training curves (stages concatenated)
//                  /runs/<name>/growth_events/<field> stage, step, tokens, flops, loss_before, loss_after
//                  /runs/<name> attributes             kind, recipe, seed, budget, n_params, final_val_loss,
//                                                      final_val_ppl, total_flops, base_flops, tokens, wall_s,
//                                                      and for recipes the compute-saved figures
//                  root attribute config               the experiment config (JSON)
//   summary.csv    one row per run
//   summary.md     the same as tables, plus compute saved per recipe (mean, std over seeds)
// All three are written to a temporary name and renamed into place.
#include <ostream>
#include <string>
#include <vector>

#include "experiment/experiment_config.h"

namespace tg {

struct Plan;

// bootstrap_samples: for the scaling fits' intervals (scaling_report.h); 0 between runs.
void write_experiment_report(const ExperimentConfig& config, const std::string& out_dir, const Plan& plan,
                             int64_t bootstrap_samples);

}  // namespace tg
