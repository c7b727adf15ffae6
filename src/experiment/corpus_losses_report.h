#pragma once
// The forgetting table of a continual-learning experiment: for every recipe and stage,
// the validation loss on each corpus seen so far at the end of that stage (mean ± std
// over seeds), read from the runs' corpus_losses_<k>.json (corpus_losses.h), and the same
// as corpus_losses.csv (one row per run, stage and corpus). Empty for experiments whose
// recipes train on one corpus.
#include <string>
#include <vector>

#include "experiment/experiment_config.h"
#include "experiment/run_result.h"

namespace tg {

// Markdown section (or ""); writes out_dir/corpus_losses.csv when there is anything to show.
std::string corpus_losses_markdown(const ExperimentConfig& config, const std::string& out_dir,
                                   const std::vector<RunResult>& results);

}  // namespace tg
