#pragma once
// The forgetting table of a continual-learning experiment: for every recipe and stage,
// the validation loss on each corpus seen so far at the end of that stage (mean ± std
// over seeds), read from the runs' corpus_losses_<k>.json (corpus_losses.h), and the same
// as corpus_losses.csv (one row per run, stage and corpus). Experiments whose recipes
// train on one corpus have no rows.
#include <cstdint>
#include <string>
#include <vector>

#include "experiment/experiment_config.h"
#include "experiment/run_result.h"

namespace tg {

// One corpus's validation loss at the end of one stage of one recipe run.
struct CorpusLoss {
  std::string run, recipe, corpus;
  uint64_t seed = 0;
  int64_t stage = 0, step = 0;
  double val_loss = 0;
};

// Every finished recipe run's corpus_losses_<k>.json under out_dir, in run and stage order.
std::vector<CorpusLoss> read_corpus_losses(const std::string& out_dir, const std::vector<RunResult>& results);

// The markdown section ("" without rows) and corpus_losses.csv's text.
std::string corpus_losses_markdown(const ExperimentConfig& config, const std::vector<CorpusLoss>& rows);
std::string corpus_losses_csv(const std::vector<CorpusLoss>& rows);

}  // namespace tg
