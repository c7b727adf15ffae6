#include "experiment/corpus_losses.h"

#include <algorithm>
#include <filesystem>

#include "experiment/planned_run.h"
#include "train/checkpoint.h"
#include "data/corpus.h"
#include "train/evaluate.h"
#include "train/train_state.h"

namespace tg {

std::vector<std::string> corpora_seen(const PlannedRun& run, size_t k) {
  std::vector<std::string> corpora, files;  // as written; and the files they name
  for (size_t j = 0; j <= k && j < run.stages.size(); ++j) {
    const std::string& path = run.stages[j].data_path;
    const std::string file = std::filesystem::weakly_canonical(path).string();  // data/a.h5 = ./data/a.h5
    if (std::find(files.begin(), files.end(), file) != files.end()) continue;
    files.push_back(file);
    corpora.push_back(path);
  }
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
                                    path + " (val)", corpus.tokenizer.bytes_per_id())
                       .loss;
  }
  return losses;
}

}  // namespace tg
