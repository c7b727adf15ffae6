#include "growth/grow_checkpoint.h"

#include <filesystem>

#include "core/error.h"
#include "train/checkpoint.h"
#include "data/corpus.h"
#include "train/evaluate.h"

namespace tg {

namespace fs = std::filesystem;

GrowReport grow_checkpoint(Engine& engine, const std::string& from_path, const std::string& out_path,
                           const GrowthTarget& target, const GrowthOptions& options,
                           const std::optional<TrainConfig>& next_train, const std::string& data_path) {
  if (fs::exists(fs::symlink_status(out_path)))
    throw UserError(out_path + ": already exists; grow never overwrites a file (choose another --out)");
  RunConfig config = parse_run_config(read_checkpoint_config(from_path), from_path + " /config");
  if (!data_path.empty()) config.data_path = data_path;
  check_growth_target(config.model, target);

  LanguageModel model(config.model);
  AdamW optimizer(config.train.adamw, model.parameters());
  TrainState state;
  load_checkpoint(from_path, model, &optimizer, &state);
  model.set_step(state.step);

  const Corpus corpus = load_corpus(config.data_path);
  check_corpus_fits(corpus.info, config.data_path, state.tokenizer, config.model.vocab_size, from_path);
  auto validate = [&](LanguageModel& m) {
    return evaluate_windows(engine, m, corpus.val, config.train.batch_size,
                            config.train.eval_batches * config.train.batch_size, config.data_path + " (val)", corpus.tokenizer.bytes_per_id())
        .loss;
  };

  GrowReport report;
  report.step = state.step;
  report.tokens = state.tokens;
  report.flops = state.flops;
  report.from = config.model;
  report.val_loss_before = validate(model);

  const AdamWConfig adam = next_train ? next_train->adamw : config.train.adamw;
  GrownModel grown = grow_model(model, &optimizer, adam, state, target, options);
  report.to = grown.model->config();
  report.val_loss_after = validate(*grown.model);
  report.warnings = grown.warnings;
  report.notes = grown.notes;

  RunConfig out_config = config;
  out_config.model = grown.model->config();
  if (next_train) out_config.train = *next_train;
  out_config.growth = options.to_json();
  save_checkpoint(out_path, out_config.to_json(), *grown.model, grown.optimizer.get(), grown.state, Publish::Exclusive);
  return report;
}

}  // namespace tg
