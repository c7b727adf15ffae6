#include "growth/grow.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "core/error.h"

namespace tg {

namespace {
std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

GrowthTarget growth_target_from_factor(const ModelConfig& from, double factor) {
  if (!(std::isfinite(factor) && factor >= 1.0)) throw UserError("--factor must be a number >= 1, got " + number(factor));
  // The product in double, bounded before it becomes an integer (llround of a value
  // beyond int64 is undefined: 1e300 gave negative counts).
  auto scale = [&](const char* kind, int64_t n) {
    const double scaled = std::round(static_cast<double>(n) * factor);
    if (scaled > static_cast<double>(kMaxTokens))
      throw UserError("--factor " + number(factor) + ": " + kind + " " + std::to_string(n) + " x " + number(factor) +
                      " = " + number(scaled) + ", more than the " + std::to_string(kMaxTokens) + " a config allows");
    return static_cast<int64_t>(scaled);
  };
  return {scale("qkv_tokens", from.qkv_tokens), scale("proj_tokens", from.proj_tokens),
          scale("ffn_tokens", from.ffn_tokens)};
}

void check_growth_target(const ModelConfig& from, const GrowthTarget& to) {
  if (from.architecture != Architecture::TokenFormer)
    throw UserError("growth appends parameter tokens to Pattention layers; this checkpoint is a " +
                    to_string(from.architecture) + " (only tokenformer models can grow)");
  // Checked before anything is allocated: the grown model must be one a config may describe.
  auto check = [](const char* kind, int64_t old_n, int64_t new_n) {
    if (new_n > kMaxTokens)
      throw UserError(std::string(kind) + ": growth target " + std::to_string(new_n) + " is beyond what a config "
                      "allows (expected an integer in [1, " + std::to_string(kMaxTokens) + "])");
    if (new_n < old_n)
      throw UserError(std::string(kind) + ": growing to fewer tokens (" + std::to_string(old_n) + " -> " +
                      std::to_string(new_n) + ") is not supported; growth only appends tokens");
  };
  check("qkv_tokens", from.qkv_tokens, to.qkv_tokens);
  check("proj_tokens", from.proj_tokens, to.proj_tokens);
  check("ffn_tokens", from.ffn_tokens, to.ffn_tokens);
}

namespace {
// Copies the first rows of `from` into `to` (same column count).
void copy_rows(const Tensor& from, Tensor& to) {
  std::memcpy(to.data(), from.data(), from.bytes());
}
}  // namespace

GrownModel grow_model(LanguageModel& model, AdamW* optimizer, const AdamWConfig& adam_config, const TrainState& state,
                      const GrowthTarget& target, const GrowthOptions& options) {
  const ModelConfig& old_config = model.config();
  check_growth_target(old_config, target);
  ModelConfig config = old_config;
  config.qkv_tokens = target.qkv_tokens;
  config.proj_tokens = target.proj_tokens;
  config.ffn_tokens = target.ffn_tokens;
  config.tau_mode = options.tau == TauGrowth::Dynamic ? TauMode::Dynamic : TauMode::Fixed;

  GrownModel out;
  out.model = std::make_unique<LanguageModel>(config);
  LanguageModel& grown = *out.model;
  const float key_std = static_cast<float>(options.key_std >= 0 ? options.key_std : config.init_std);
  const float value_std = static_cast<float>(
      options.value_std >= 0 ? options.value_std : 2.0 / (config.n_layers * std::sqrt(static_cast<double>(config.d_model))));
  if (options.key_init == KeyInit::Zero && options.value_init == ValueInit::Zero)
    out.warnings.push_back("new keys and values are both zero: those tokens get exactly zero gradient and never train");

  // Parameters: old rows copied; new Pattention rows drawn from their own stream.
  Rng rng(options.seed ^ 0x6A09E667F3BCC909ull);
  for (Parameter* p : grown.parameters()) {
    Parameter* old = model.find_parameter(p->name);
    copy_rows(old->value, p->value);
    const int64_t old_numel = old->value.numel();
    if (p->value.numel() == old_numel) continue;
    const bool is_key = p->name.size() >= 5 && p->name.compare(p->name.size() - 5, 5, "/keys") == 0;
    const bool zero = is_key ? options.key_init == KeyInit::Zero : options.value_init == ValueInit::Zero;
    const float std = is_key ? key_std : value_std;
    for (int64_t i = old_numel; i < p->value.numel(); ++i) p->value[i] = zero ? 0.0f : std * static_cast<float>(rng.normal());
  }

  // tau per layer.
  std::ostringstream note;
  const auto& old_layers = model.pattentions();
  const auto& new_layers = grown.pattentions();
  for (size_t i = 0; i < new_layers.size(); ++i) {
    Pattention* o = old_layers[i];
    Pattention* n = new_layers[i];
    const float new_sqrt = std::sqrt(static_cast<float>(n->n_tokens()));
    switch (options.tau) {
      case TauGrowth::Fixed: n->set_tau(o->tau()); break;
      case TauGrowth::Dynamic: n->set_tau(new_sqrt); break;
      case TauGrowth::Anneal:
        n->set_tau(o->tau());
        n->set_tau_anneal({o->tau(), new_sqrt, state.step, options.anneal_steps});
        break;
    }
  }
  if (config.normalization == PattentionNorm::Softmax && options.key_init == KeyInit::Zero &&
      options.tau != TauGrowth::Dynamic)
    out.notes.push_back("softmax normalisation: each zero new key scores exp(0) = 1 in every row's softmax, so old "
                        "tokens lose weight and new values gain it; zero keys are not exact for softmax "
                        "(docs/growth.md)");
  if (options.tau == TauGrowth::Dynamic) {
    note << "tau recomputed as sqrt(n): every old score is scaled by";
    for (auto [kind, o, n] : {std::tuple{"qkv", old_config.qkv_tokens, config.qkv_tokens},
                              std::tuple{"proj", old_config.proj_tokens, config.proj_tokens},
                              std::tuple{"ffn", old_config.ffn_tokens, config.ffn_tokens}})
      note << " " << kind << " x" << std::sqrt(static_cast<double>(n) / static_cast<double>(o));
    note << " (not output-preserving)";
    out.notes.push_back(note.str());
  }

  // Optimizer.
  out.optimizer = std::make_unique<AdamW>(adam_config, grown.parameters());
  if (optimizer && options.optimizer == OptimizerGrowth::Keep) {
    for (Parameter* p : grown.parameters()) {
      AdamWState& old_state = optimizer->state(p->name);
      AdamWState& new_state = out.optimizer->state(p->name);
      copy_rows(old_state.exp_avg, new_state.exp_avg);
      copy_rows(old_state.exp_avg_sq, new_state.exp_avg_sq);
      // New rows keep row_steps = 0: their first update is an ordinary first Adam step.
      std::copy(old_state.row_steps.begin(), old_state.row_steps.end(), new_state.row_steps.begin());
    }
  }

  out.state = state;
  out.state.stage = state.stage + 1;
  out.state.stage_start_step = state.step;
  grown.set_step(state.step);
  return out;
}

}  // namespace tg
