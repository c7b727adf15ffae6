#include "train/checkpoint.h"

#include <cmath>
#include <filesystem>

#include "core/crash_point.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "train/run_config.h"

namespace tg {

namespace {
const char* const kFormat = "tokengrow-checkpoint";
const char* const kKind = "checkpoint";  // the seal's kind

std::vector<int64_t> rng_to_ints(const std::array<uint64_t, 4>& s) {
  return {static_cast<int64_t>(s[0]), static_cast<int64_t>(s[1]), static_cast<int64_t>(s[2]), static_cast<int64_t>(s[3])};
}

// The group of a Pattention's parameters, as stored: "/model/<layer name>".
std::string model_path(const std::string& name) { return "model/" + name; }
}  // namespace

void save_checkpoint(const std::string& path, const nlohmann::json& config, LanguageModel& model, AdamW* optimizer,
                     const TrainState& state, Publish publish) {
  const std::vector<char> bytes = checkpoint_bytes(path, config, model, optimizer, state);
  write_file_durably(path, std::string_view(bytes.data(), bytes.size()), publish);
}

std::vector<char> checkpoint_bytes(const std::string& name, const nlohmann::json& config, LanguageModel& model,
                                   AdamW* optimizer, const TrainState& state) {
  // Sealed: a whole-file CRC-32, checked before any load.
  return build_sealed(name, kKind, [&](H5File& file) {
    file.set_attr("/", "format", std::string(kFormat));
    file.set_attr("/", "format_version", int64_t{2});
    file.set_attr("/", "config", config.dump());
    write_tokenizer_spec(file, state.tokenizer, state.tokenizer_vocab_size);
    for (Parameter* p : model.parameters()) file.write_tensor(model_path(p->name), p->value);
    for (Pattention* p : model.pattentions()) {
      const std::string group = model_path(p->name());
      file.set_attr(group, "tau", static_cast<double>(p->tau()));
      file.set_attr(group, "normalization", to_string(p->norm()));
      const auto& a = p->tau_anneal();
      if (a.steps > 0) {
        file.set_attr(group, "tau_anneal_from", static_cast<double>(a.from));
        file.set_attr(group, "tau_anneal_to", static_cast<double>(a.to));
        file.set_attr(group, "tau_anneal_start_step", a.start_step);
        file.set_attr(group, "tau_anneal_steps", a.steps);
      }
    }
    crash_point("checkpoint.model_written");
    if (optimizer) {
      for (auto& [name, s] : optimizer->states()) {
        file.write_tensor("optimizer/exp_avg/" + name, s.exp_avg);
        file.write_tensor("optimizer/exp_avg_sq/" + name, s.exp_avg_sq);
        file.write_ints("optimizer/row_steps/" + name, s.row_steps);
      }
    }
    file.write_ints("state/step", {state.step});
    file.write_ints("state/stage", {state.stage});
    file.write_ints("state/stage_start_step", {state.stage_start_step});
    file.write_ints("state/tokens", {state.tokens});
    file.write_ints("state/data_rng", rng_to_ints(state.data_rng));
    file.set_attr("state", "flops", state.flops);
    file.set_attr("state", "wall_s", state.wall_s);
    file.set_attr("state", "peak_lr", state.peak_lr);
    file.set_attr("state", "lr_scale", state.lr_scale);
    if (!state.frozen_rows.empty()) {  // absent: nothing frozen (and in checkpoints before freezing existed)
      file.set_attr("state", "frozen_rows", nlohmann::json(state.frozen_rows).dump());
      file.set_attr("state", "freeze_until_step", state.freeze_until_step);
    }
    file.set_attr("state", "skipped_steps", state.skipped_steps);
    file.set_attr("state", "rollbacks", state.rollbacks);
    file.set_attr("state", "world_size", state.world_size);
    file.set_attr("state", "grad_accum", state.grad_accum);
    file.set_attr("state", "log_loss_sum", state.log_loss_sum);
    file.set_attr("state", "log_loss_count", state.log_loss_count);
    if (state.corpus) {
      file.set_attr("state", "corpus_crc32", static_cast<int64_t>(state.corpus->crc32));
      file.set_attr("state", "corpus_train_tokens", state.corpus->train_tokens);
      file.set_attr("state", "corpus_val_tokens", state.corpus->val_tokens);
    }
  });
}

namespace {
// Opens a checkpoint after verifying its seal and format attribute.
H5File open_checkpoint(const std::string& path) {
  H5File file = open_sealed(path, kKind);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(path + ": not a tokengrow checkpoint (no format = \"" + std::string(kFormat) + "\" attribute)");
  return file;
}

nlohmann::json config_of(const H5File& file) {
  return parse_json_text(file.get_attr_string("/", "config"), file.path() + " /config");
}

// Throws unless dataset `where` has shape `expected`: checked before it is read, so
// a crafted shape is never allocated. `whose` says whose shape it must have.
void require_shape(const H5File& file, const std::string& where, const std::vector<int64_t>& expected,
                   const std::string& whose) {
  const std::vector<int64_t> stored = file.shape(where);
  if (stored != expected)
    throw UserError(file.path() + ": /" + where + " has shape " + shape_string(stored) + ", " + whose + " " +
                    shape_string(expected));
}

// state frozen_rows: a JSON object of parameter name -> rows, each in [0, 2^40].
void read_frozen_rows(const H5File& file, TrainState& state) {
  state.frozen_rows.clear();
  state.freeze_until_step = 0;
  if (!file.has_attr("state", "frozen_rows")) return;
  const std::string text = file.get_attr_string("state", "frozen_rows");
  const nlohmann::json rows = nlohmann::json::parse(text, nullptr, false);
  if (!rows.is_object()) throw UserError(file.path() + ": /state frozen_rows is not a JSON object of row counts");
  for (auto it = rows.begin(); it != rows.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 || it.value().get<int64_t>() > (int64_t{1} << 40))
      throw UserError(file.path() + ": /state frozen_rows[" + it.key() + "] = " + it.value().dump() +
                      ": expected a row count >= 0");
    state.frozen_rows[it.key()] = it.value().get<int64_t>();
  }
  state.freeze_until_step = file.get_attr_int("state", "freeze_until_step");
}

void read_state(const H5File& file, TrainState& state) {
  for (const char* one : {"state/step", "state/stage", "state/stage_start_step", "state/tokens"})
    require_shape(file, one, {1}, "expected");
  require_shape(file, "state/data_rng", {4}, "expected");
  state.step = file.read_ints("state/step").at(0);
  state.stage = file.read_ints("state/stage").at(0);
  state.stage_start_step = file.read_ints("state/stage_start_step").at(0);
  state.tokens = file.read_ints("state/tokens").at(0);
  const auto rng = file.read_ints("state/data_rng");
  for (int i = 0; i < 4; ++i) state.data_rng[i] = static_cast<uint64_t>(rng[i]);
  state.flops = file.get_attr_double("state", "flops");
  state.wall_s = file.get_attr_double("state", "wall_s");
  state.peak_lr = file.get_attr_double("state", "peak_lr");
  state.lr_scale = file.get_attr_double("state", "lr_scale");
  state.skipped_steps = file.get_attr_int("state", "skipped_steps");
  state.rollbacks = file.get_attr_int("state", "rollbacks");
  state.log_loss_sum = file.get_attr_double("state", "log_loss_sum");
  state.log_loss_count = file.get_attr_int("state", "log_loss_count");
  const auto positive = [&](const char* key) {  // absent before data parallelism: 1
    const int64_t v = file.has_attr("state", key) ? file.get_attr_int("state", key) : 1;
    if (v < 1 || v > (int64_t{1} << 24)) throw UserError(file.path() + ": /state " + key + " " + std::to_string(v) + ": expected >= 1");
    return v;
  };
  state.world_size = positive("world_size");
  state.grad_accum = positive("grad_accum");
  state.corpus.reset();
  if (file.has_attr("state", "corpus_crc32")) {
    const int64_t crc = file.get_attr_int("state", "corpus_crc32");
    if (crc < 0 || crc > int64_t{0xFFFFFFFF})
      throw UserError(file.path() + ": /state corpus_crc32 " + std::to_string(crc) + " is not a CRC-32");
    state.corpus = CorpusChecksum{static_cast<uint32_t>(crc), file.get_attr_int("state", "corpus_train_tokens"),
                                  file.get_attr_int("state", "corpus_val_tokens")};
  }
  // Absent in checkpoints older than the record: all were trained on byte corpora
  // (no other tokenizer existed).
  state.tokenizer = file.has_attr("/", "tokenizer") ? read_tokenizer_spec(file, file.path()) : TokenizerSpec{};
  state.tokenizer_vocab_size =
      file.has_attr("/", "tokenizer_vocab_size") ? file.get_attr_int("/", "tokenizer_vocab_size") : int64_t{256};
  read_frozen_rows(file, state);
}

void load_from(const H5File& file, LanguageModel& model, AdamW* optimizer, TrainState* state) {
  const std::string& path = file.path();
  for (Parameter* p : model.parameters()) {
    const std::string where = model_path(p->name);
    if (!file.exists(where)) throw UserError(path + ": missing parameter /" + where);
    require_shape(file, where, p->value.shape(), "the model expects");
    p->value = file.read_tensor(where);
  }
  for (Pattention* p : model.pattentions()) {
    const std::string group = model_path(p->name());
    const double stored_tau = file.get_attr_double(group, "tau");
    // Dynamic tau is a function of n; fixed tau is whatever the file stored.
    if (model.config().tau_mode == TauMode::Dynamic) p->set_tau(std::sqrt(static_cast<float>(p->n_tokens())));
    else p->set_tau(static_cast<float>(stored_tau));
    if (file.has_attr(group, "tau_anneal_steps")) {
      Pattention::TauAnneal a;
      a.from = static_cast<float>(file.get_attr_double(group, "tau_anneal_from"));
      a.to = static_cast<float>(file.get_attr_double(group, "tau_anneal_to"));
      a.start_step = file.get_attr_int(group, "tau_anneal_start_step");
      a.steps = file.get_attr_int(group, "tau_anneal_steps");
      p->set_tau_anneal(a);  // tau stays the stored value, the one at the checkpoint's step
    }
  }
  if (optimizer) {
    // Every moment has its parameter's shape, one step count per row (AdamW indexes
    // them by the parameter's shape: a smaller moment was read and written past its end).
    for (auto& [name, s] : optimizer->states()) {
      const std::string m = "optimizer/exp_avg/" + name, v = "optimizer/exp_avg_sq/" + name,
                        t = "optimizer/row_steps/" + name;
      if (!file.exists(m)) throw UserError(path + ": missing optimizer state /" + m);
      require_shape(file, m, s.exp_avg.shape(), "its parameter has");
      require_shape(file, v, s.exp_avg_sq.shape(), "its parameter has");
      require_shape(file, t, {static_cast<int64_t>(s.row_steps.size())}, "expected");
      s.exp_avg = file.read_tensor(m);
      s.exp_avg_sq = file.read_tensor(v);
      s.row_steps = file.read_ints(t);
    }
  }
  if (state) read_state(file, *state);
}

}  // namespace

nlohmann::json read_checkpoint_config(const std::string& path) { return config_of(open_checkpoint(path)); }

TrainState read_checkpoint_state(const std::string& path) {
  TrainState state;
  read_state(open_checkpoint(path), state);
  return state;
}

void load_checkpoint(const std::string& path, LanguageModel& model, AdamW* optimizer, TrainState* state) {
  load_from(open_checkpoint(path), model, optimizer, state);
}

std::unique_ptr<LanguageModel> load_model(const std::string& path, TrainState* state) {
  const H5File file = open_checkpoint(path);
  const nlohmann::json config = config_of(file);
  if (!config.contains("model")) throw UserError(path + ": the /config attribute has no \"model\" object");
  auto model = std::make_unique<LanguageModel>(parse_model_config(ConfigReader(config["model"], path + " /config", "model")));
  load_from(file, *model, nullptr, state);
  return model;
}

}  // namespace tg
