#include "train/checkpoint.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "train/run_config.h"

namespace tg {

namespace {
const char* kFormat = "tokengrow-checkpoint";

std::vector<int64_t> rng_to_ints(const std::array<uint64_t, 4>& s) {
  return {static_cast<int64_t>(s[0]), static_cast<int64_t>(s[1]), static_cast<int64_t>(s[2]), static_cast<int64_t>(s[3])};
}

// The group of a Pattention's parameters, as stored: "/model/<layer name>".
std::string model_path(const std::string& name) { return "model/" + name; }
}  // namespace

void save_checkpoint(const std::string& path, const nlohmann::json& config, LanguageModel& model, AdamW* optimizer,
                     const TrainState& state) {
  const std::string tmp = path + ".tmp";
  {
    H5File file = H5File::create(tmp);
    file.set_attr("/", "format", std::string(kFormat));
    file.set_attr("/", "format_version", int64_t{1});
    file.set_attr("/", "config", config.dump());
    for (Parameter* p : model.parameters()) file.write_tensor(model_path(p->name), p->value);
    for (Pattention* p : model.pattentions()) {
      file.set_attr(model_path(p->name()), "tau", static_cast<double>(p->tau()));
      file.set_attr(model_path(p->name()), "normalization", to_string(p->norm()));
      const auto& a = p->tau_anneal();
      if (a.steps > 0) {
        file.set_attr(model_path(p->name()), "tau_anneal_from", static_cast<double>(a.from));
        file.set_attr(model_path(p->name()), "tau_anneal_to", static_cast<double>(a.to));
        file.set_attr(model_path(p->name()), "tau_anneal_start_step", a.start_step);
        file.set_attr(model_path(p->name()), "tau_anneal_steps", a.steps);
      }
    }
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
    file.flush();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw UserError(path + ": cannot write checkpoint: " + ec.message());
  }
}

static void check_format(const H5File& file) {
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(file.path() + ": not a tokengrow checkpoint (no format = \"" + std::string(kFormat) + "\" attribute)");
}

nlohmann::json read_checkpoint_config(const std::string& path) {
  H5File file = H5File::open_read(path);
  check_format(file);
  try {
    return nlohmann::json::parse(file.get_attr_string("/", "config"));
  } catch (const nlohmann::json::parse_error& e) {
    throw UserError(path + ": the /config attribute is not valid JSON: " + e.what());
  }
}

void load_checkpoint(const std::string& path, LanguageModel& model, AdamW* optimizer, TrainState* state) {
  H5File file = H5File::open_read(path);
  check_format(file);
  for (Parameter* p : model.parameters()) {
    const std::string where = model_path(p->name);
    if (!file.exists(where)) throw UserError(path + ": missing parameter /" + where);
    if (file.shape(where) != p->value.shape())
      throw UserError(path + ": /" + where + " has shape " + Tensor(file.shape(where)).shape_string() +
                      ", the model expects " + p->value.shape_string());
    p->value = file.read_tensor(where);
  }
  for (Pattention* p : model.pattentions()) {
    // Dynamic tau is a function of n; fixed tau is whatever the file stored.
    if (model.config().tau_mode == TauMode::Dynamic) p->set_tau(std::sqrt(static_cast<float>(p->n_tokens())));
    else p->set_tau(static_cast<float>(file.get_attr_double(model_path(p->name()), "tau")));
    const std::string group = model_path(p->name());
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
    for (auto& [name, s] : optimizer->states()) {
      const std::string m = "optimizer/exp_avg/" + name;
      if (!file.exists(m)) throw UserError(path + ": missing optimizer state /" + m);
      s.exp_avg = file.read_tensor(m);
      s.exp_avg_sq = file.read_tensor("optimizer/exp_avg_sq/" + name);
      s.row_steps = file.read_ints("optimizer/row_steps/" + name);
    }
  }
  if (state) {
    state->step = file.read_ints("state/step").at(0);
    state->stage = file.read_ints("state/stage").at(0);
    state->stage_start_step = file.read_ints("state/stage_start_step").at(0);
    state->tokens = file.read_ints("state/tokens").at(0);
    const auto rng = file.read_ints("state/data_rng");
    if (rng.size() != 4) throw UserError(path + ": /state/data_rng must hold 4 integers");
    for (int i = 0; i < 4; ++i) state->data_rng[i] = static_cast<uint64_t>(rng[i]);
    state->flops = file.get_attr_double("state", "flops");
    state->wall_s = file.get_attr_double("state", "wall_s");
    state->peak_lr = file.get_attr_double("state", "peak_lr");
  }
}

std::unique_ptr<LanguageModel> load_model(const std::string& path, TrainState* state) {
  const nlohmann::json config = read_checkpoint_config(path);
  if (!config.contains("model")) throw UserError(path + ": the /config attribute has no \"model\" object");
  auto model = std::make_unique<LanguageModel>(parse_model_config(ConfigReader(config["model"], path + " /config", "model")));
  load_checkpoint(path, *model, nullptr, state);
  return model;
}

}  // namespace tg
