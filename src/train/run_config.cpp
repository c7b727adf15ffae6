#include "train/run_config.h"

#include <filesystem>

#include "data/corpus.h"

#include "core/config_reader.h"
#include "core/thread_count.h"

namespace tg {

namespace {
int64_t read_batch_size(ConfigReader& train) { return train.get_int("batch_size", 16, 1, 1 << 20); }
int64_t read_grad_accum(ConfigReader& train) { return train.get_int("grad_accum", 1, 1, 1 << 16); }

TrainConfig parse_train_config(ConfigReader r) {
  TrainConfig c;
  const int64_t big = int64_t{1} << 40;
  c.steps = r.get_int("steps", std::nullopt, 1, big);
  c.batch_size = read_batch_size(r);
  c.lr = r.get_double("lr", 1e-3, 0.0, 10.0);
  c.min_lr = r.get_double("min_lr", c.lr / 10, 0.0, 10.0);
  if (c.min_lr > c.lr) r.fail("min_lr", "must not exceed lr (" + std::to_string(c.lr) + ")");
  c.warmup_steps = r.get_int("warmup_steps", std::max<int64_t>(1, c.steps / 100), 0, c.steps);
  c.adamw.beta1 = r.get_double("beta1", 0.9, 0.0, 0.999999);
  c.adamw.beta2 = r.get_double("beta2", 0.95, 0.0, 0.999999);
  c.adamw.eps = r.get_double("adam_eps", 1e-8, 1e-30, 1.0);
  c.adamw.weight_decay = r.get_double("weight_decay", 0.1, 0.0, 10.0);
  c.grad_clip = r.get_double("grad_clip", 1.0, 0.0, 1e9);
  c.seed = static_cast<uint64_t>(r.get_int("seed", 0, 0, int64_t{1} << 53));
  c.threads = r.get_int("threads", 0, 0, kMaxThreads);
  c.recompute = r.get_enum("recompute", Recompute::None, kRecomputeNames);
  c.log_every = r.get_int("log_every", 10, 1, big);
  c.eval_every = r.get_int("eval_every", 100, 0, big);
  c.eval_batches = r.get_int("eval_batches", 8, 1, 1 << 20);
  c.checkpoint_every = r.get_int("checkpoint_every", 0, 0, big);
  c.keep_checkpoints = r.get_int("keep_checkpoints", 0, 0, big);
  c.schedule = r.get_string("schedule", "stage", {"stage", "global"});
  c.global_steps = r.get_int("global_steps", 0, 0, big);
  c.lr_factor = r.get_double("lr_factor", 0.0, 0.0, 1e3);
  c.max_bad_steps = r.get_int("max_bad_steps", 5, 1, 1 << 20);
  c.on_divergence = r.get_string("on_divergence", "rollback", {"rollback", "stop"});
  c.rollback_lr_factor = r.get_double("rollback_lr_factor", 0.5, 1e-6, 1.0);
  c.max_rollbacks = r.get_int("max_rollbacks", 3, 0, 1 << 20);
  c.grad_accum = read_grad_accum(r);
  c.deterministic_reduce = r.get_bool("deterministic_reduce", false);
  c.replica_check_every = r.get_int("replica_check_every", 100, 0, big);
  r.finish();
  return c;
}
}  // namespace

nlohmann::json TrainConfig::to_json() const {
  return {{"steps", steps},         {"batch_size", batch_size},
          {"lr", lr},               {"min_lr", min_lr},
          {"warmup_steps", warmup_steps}, {"beta1", adamw.beta1},
          {"beta2", adamw.beta2},   {"adam_eps", adamw.eps},
          {"weight_decay", adamw.weight_decay}, {"grad_clip", grad_clip},
          {"seed", seed},           {"threads", threads}, {"recompute", to_string(recompute)},
          {"log_every", log_every}, {"eval_every", eval_every},
          {"eval_batches", eval_batches}, {"checkpoint_every", checkpoint_every},
          {"keep_checkpoints", keep_checkpoints}, {"schedule", schedule},   {"global_steps", global_steps},
          {"lr_factor", lr_factor}, {"max_bad_steps", max_bad_steps},
          {"on_divergence", on_divergence}, {"rollback_lr_factor", rollback_lr_factor},
          {"max_rollbacks", max_rollbacks}, {"grad_accum", grad_accum},
          {"deterministic_reduce", deterministic_reduce}, {"replica_check_every", replica_check_every}};
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = {{"data", data_path}, {"model", model.to_json()}, {"train", train.to_json()}};
  if (!growth.is_null()) j["growth"] = growth;
  return j;
}

namespace {
// The "model" section and "data"; reads both keys of `root`.
ModelConfig parse_model_of_run(ConfigReader& root, std::string* data_path) {
  *data_path = root.get_path("data", std::nullopt, "a corpus file from `tokengrow prepare`");
  const ConfigReader model = root.get_object("model");
  ModelConfig config = parse_model_config(model);
  // Without model.vocab_size the corpus's vocabulary is the model's, so that moving a
  // config from a byte corpus to a BPE one is the change of "data" alone.
  if (!model.has("vocab_size") && std::filesystem::exists(*data_path))
    if (const int64_t corpus_vocab = read_corpus_vocab_size(*data_path); corpus_vocab >= 2 && corpus_vocab <= kMaxVocabSize)
      config.vocab_size = corpus_vocab;  // else the trainer names what is wrong with the file
  return config;
}
}  // namespace

RunShape parse_run_shape(const nlohmann::json& json, const std::string& file) {
  ConfigReader root(json, file, "");
  RunShape shape;
  std::string data_path;
  shape.model = parse_model_of_run(root, &data_path);
  ConfigReader train = root.get_object("train");
  shape.batch_size = read_batch_size(train);
  shape.grad_accum = read_grad_accum(train);
  return shape;
}

RunConfig parse_run_config(const nlohmann::json& json, const std::string& file) {
  ConfigReader root(json, file, "");
  RunConfig c;
  c.model = parse_model_of_run(root, &c.data_path);
  c.train = parse_train_config(root.get_object("train"));
  root.get_string("description", "");  // free text for the reader of the config
  if (root.has("growth")) c.growth = root.raw("growth");
  root.finish();
  return c;
}

RunConfig load_run_config(const std::string& path) { return parse_run_config(read_json_file(path), path); }

}  // namespace tg
