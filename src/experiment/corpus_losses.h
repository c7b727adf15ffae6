#pragma once
// Continual learning: the validation loss of a stage's final checkpoint on every corpus
// the run has trained on up to and including that stage, so an experiment shows what a
// later stage on new data forgets of the old (grown and continued runs alike).
//   <run>/corpus_losses_<k>.json  {"stage": k, "step": s, "losses": {"<corpus>": nats per token}}
#include <map>
#include <string>
#include <vector>

#include "core/engine.h"
#include "train/run_config.h"

namespace tg {

struct PlannedRun;

// The distinct corpora of stages 0..k, in order of first use.
std::vector<std::string> corpora_seen(const PlannedRun& run, size_t k);

// Mean validation loss (eval_batches windows of each corpus's validation split, as in
// training) of `checkpoint` on each corpus.
std::map<std::string, double> losses_on_corpora(Engine& engine, const std::string& checkpoint,
                                                const std::vector<std::string>& corpora, const TrainConfig& train);

}  // namespace tg
