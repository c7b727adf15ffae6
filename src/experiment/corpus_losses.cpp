#include "experiment/corpus_losses.h"

#include <algorithm>

#include "experiment/planned_run.h"
#include "train/checkpoint.h"
#include "train/corpus.h"
#include "train/evaluate.h"
#include "train/train_state.h"

namespace tg {

std::vector<std::string> corpora_seen(const PlannedRun& run, size_t k) {
  std::vector<std::string> corpora;
  for (size_t j = 0; j <= k && j < run.stages.size(); ++j)
    if (std::find(corpora.begin(), corpora.end(), run.stages[j].data_path) == corpora.end())
      corpora.push_back(run.stages[j].data_path);
  return corpora;
}

std::map<std::string, double> losses_on_corpora(Engine& engine, const std::string& checkpoint,
                                                const std::vector<std::string>& corpora, const TrainConfig& train) {
  TrainState state;
  const std::unique_ptr<LanguageModel> model = load_model(checkpoint, &state);
  model->set_step(state.step);
  std::map<std::string, double> losses;
  for (const std::string& path : corpora) {
    const Corpus corpus = load_corpus(path);
    check_corpus_fits(corpus.info, path, state.tokenizer, model->config().vocab_size, checkpoint);
    losses[path] = evaluate_windows(engine, *model, corpus.val, train.batch_size, train.eval_batches * train.batch_size,
                                    path + " (val)")
                       .loss;
  }
  return losses;
}

}  // namespace tg
