#include "inference/packed_model.h"

#include <cmath>
#include <filesystem>
#include <set>

#include "core/config_reader.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "layers/packed_levels.h"
#include "model/model_cost.h"
#include "train/checkpoint.h"
#include "data/tokenizer.h"

namespace tg {

namespace {
const char* const kKind = "packed_model";  // the seal's kind
const char* const kFormat = "tokengrow-packed-model";
constexpr int64_t kFormatVersion = 1;

std::string levels_path(const std::string& name) { return "packed/" + name + "/levels"; }
std::string scales_path(const std::string& name) { return "packed/" + name + "/scales"; }

void refuse_float_weights(const ModelConfig& config, const std::string& source) {
  if (config.weights == WeightFormat::Float)
    throw UserError(source + ": model.weights is \"float\"; only a model trained with model.weights \"ternary\" or "
                    "\"binary\" has packed weights");
}

// The names of the parameters stored packed (every Int8Weight's).
std::set<std::string> packed_names(LanguageModel& model) {
  std::set<std::string> names;
  for (const Int8Weight* w : model.int8_weights()) names.insert(w->name);
  return names;
}

// w's frozen levels, or the ones quantised from its float parameter now.
Int8Weight frozen_copy(LanguageModel& model, const Int8Weight& w) {
  if (w.frozen) return w;
  Int8Weight copy(w.name, w.rows, w.cols);
  copy.freeze_from(model.config().weights, model.find_parameter(w.name)->value);
  return copy;
}

void write_contents(H5File& file, const nlohmann::json& config, LanguageModel& model, const TrainState& state) {
  file.set_attr("/", "format", std::string(kFormat));
  file.set_attr("/", "format_version", kFormatVersion);
  file.set_attr("/", "config", config.dump());
  file.set_attr("/", "step", state.step);
  write_tokenizer_spec(file, state.tokenizer, state.tokenizer_vocab_size);
  for (const Int8Weight* w : model.int8_weights()) {
    const Int8Weight q = frozen_copy(model, *w);
    file.write_bytes_u8(levels_path(q.name), pack_levels(q.levels.data(), q.rows * q.cols));
    file.write_tensor(scales_path(q.name), q.scales);
  }
  const std::set<std::string> packed = packed_names(model);
  for (Parameter* p : model.parameters())
    if (!packed.count(p->name)) file.write_tensor("model/" + p->name, p->value);
  for (Pattention* p : model.pattentions()) {
    file.set_attr("packed/" + p->name(), "tau", static_cast<double>(p->tau()));
    file.set_attr("packed/" + p->name(), "normalization", to_string(p->norm()));
  }
}

// Throws unless dataset `where` exists with shape `expected` (checked before reading, so
// a crafted size is never allocated).
void require_dataset(const H5File& file, const std::string& where, const std::vector<int64_t>& expected) {
  if (!file.exists(where)) throw UserError(file.path() + ": missing dataset /" + where);
  const std::vector<int64_t> stored = file.shape(where);
  if (stored != expected)
    throw UserError(file.path() + ": /" + where + " has shape " + shape_string(stored) + ", the model's config needs " +
                    shape_string(expected));
}

ModelConfig read_config(const H5File& file, nlohmann::json& config) {
  config = parse_json_text(file.get_attr_string("/", "config"), file.path() + " /config");
  if (!config.contains("model")) throw UserError(file.path() + ": the /config attribute has no \"model\" object");
  ModelConfig model = parse_model_config(ConfigReader(config["model"], file.path() + " /config", "model"));
  refuse_float_weights(model, file.path());
  // A packed file holds at least 2 bits per parameter: a config claiming more parameters
  // than that is refused before the model is allocated.
  const auto bytes = static_cast<double>(std::filesystem::file_size(file.path()));
  if (static_cast<double>(n_params(model)) / 4.0 > bytes)
    throw UserError(file.path() + ": /config describes " + std::to_string(n_params(model)) +
                    " parameters, more than a file of " + std::to_string(static_cast<int64_t>(bytes)) +
                    " bytes can hold packed");
  return model;
}

void read_int8_weight(const H5File& file, Int8Weight& w, LanguageModel& model) {
  const int64_t count = w.rows * w.cols;
  require_dataset(file, levels_path(w.name), {packed_level_bytes(count)});
  require_dataset(file, scales_path(w.name), {w.rows});
  const std::vector<uint8_t> packed = file.read_bytes_u8(levels_path(w.name));
  Tensor scales = file.read_tensor(scales_path(w.name));
  for (int64_t i = 0; i < w.rows; ++i)
    if (!std::isfinite(scales[i]) || scales[i] < 0)
      throw UserError(file.path() + ": /" + scales_path(w.name) + "[" + std::to_string(i) + "] = " +
                      std::to_string(scales[i]) + ": a scale must be finite and >= 0");
  std::vector<int8_t> levels(static_cast<size_t>(count));
  unpack_levels(packed.data(), count, levels.data(), file.path() + ": /" + levels_path(w.name));
  w.freeze(std::move(levels), std::move(scales));
  // Forward only: the float copy of this matrix is never read again.
  Parameter* p = model.find_parameter(w.name);
  p->value.release();
  p->grad.release();
}

void read_tau(const H5File& file, Pattention& p) {
  const std::string group = "packed/" + p.name();
  const double tau = file.get_attr_double(group, "tau");
  if (!std::isfinite(tau) || tau <= 0)
    throw UserError(file.path() + ": /" + group + " tau = " + std::to_string(tau) + ": expected a finite tau > 0");
  p.set_tau(static_cast<float>(tau));
}
}  // namespace

std::vector<char> packed_model_bytes(const std::string& name, const nlohmann::json& config, LanguageModel& model,
                                     const TrainState& state) {
  refuse_float_weights(model.config(), name);
  return build_sealed(name, kKind, [&](H5File& file) { write_contents(file, config, model, state); });
}

void write_packed_model(const std::string& ckpt, const std::string& out, Publish publish) {
  TrainState state;
  const nlohmann::json config = read_checkpoint_config(ckpt);
  auto model = load_model(ckpt, &state);
  const std::vector<char> bytes = packed_model_bytes(ckpt, config, *model, state);
  write_file_durably(out, std::string_view(bytes.data(), bytes.size()), publish);
}

void freeze_int8_weights(LanguageModel& model, const std::string& source) {
  refuse_float_weights(model.config(), source);
  for (Int8Weight* w : model.int8_weights())
    if (!w->frozen) w->freeze_from(model.config().weights, model.find_parameter(w->name)->value);
}

std::unique_ptr<LanguageModel> load_packed_model(const std::string& path, TrainState* state) {
  const H5File file = open_sealed(path, kKind);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(path + ": not a tokengrow packed model (no format = \"" + std::string(kFormat) + "\" attribute)");
  if (file.get_attr_int("/", "format_version") != kFormatVersion)
    throw UserError(path + ": packed model format_version " + std::to_string(file.get_attr_int("/", "format_version")) +
                    ", this tokengrow reads version " + std::to_string(kFormatVersion));
  nlohmann::json config;
  auto model = std::make_unique<LanguageModel>(read_config(file, config));
  const std::set<std::string> packed = packed_names(*model);
  for (Parameter* p : model->parameters()) {
    if (packed.count(p->name)) continue;
    require_dataset(file, "model/" + p->name, p->value.shape());
    p->value = file.read_tensor("model/" + p->name);
  }
  for (Int8Weight* w : model->int8_weights()) read_int8_weight(file, *w, *model);
  for (Pattention* p : model->pattentions()) read_tau(file, *p);
  if (state) {
    state->step = file.get_attr_int("/", "step");
    state->tokenizer = read_tokenizer_spec(file, path);
    state->tokenizer_vocab_size = file.get_attr_int("/", "tokenizer_vocab_size");
  }
  return model;
}

}  // namespace tg
