#include "growth/grow.h"

#include <cmath>
#include <map>
#include <sstream>

#include "core/error.h"
#include "growth/depth_map.h"
#include "growth/width_map.h"

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

namespace {
// d -> k d (width_map.h): k an integer, the grown heads and MLP within a config's limits.
void check_width_target(const ModelConfig& from, int64_t d_model) {
  const std::string range = "expected a multiple of " + std::to_string(from.d_model) + " in [" +
                            std::to_string(from.d_model) + ", " + std::to_string(kMaxDModel) + "]";
  if (d_model < from.d_model || d_model > kMaxDModel || d_model % from.d_model != 0)
    throw UserError("d_model: growth target " + std::to_string(d_model) + ", but the model has " +
                    std::to_string(from.d_model) + "; " + range + " (width growth clones the hidden vector k times)");
  const int64_t k = d_model / from.d_model;
  if (from.n_heads * k > kMaxHeads)
    throw UserError("d_model " + std::to_string(d_model) + ": the heads would grow to " + std::to_string(from.n_heads * k) +
                    ", more than the " + std::to_string(kMaxHeads) + " a config allows");
  if (from.ffn_hidden * k > kMaxHidden)
    throw UserError("d_model " + std::to_string(d_model) + ": the MLP would grow to " + std::to_string(from.ffn_hidden * k) +
                    " hidden units, more than the " + std::to_string(kMaxHidden) + " a config allows");
}
}  // namespace

void check_growth_target(const ModelConfig& from, const GrowthTarget& to) {
  const bool tokens_change = to.qkv_tokens != from.qkv_tokens || to.proj_tokens != from.proj_tokens ||
                             to.ffn_tokens != from.ffn_tokens;
  if (tokens_change && from.architecture != Architecture::TokenFormer)
    throw UserError("token growth appends parameter tokens to Pattention layers; this checkpoint is a " +
                    to_string(from.architecture) + " (grow it in depth, --layers, or width, --d-model)");
  if (to.n_layers != 0 && (to.n_layers < from.n_layers || to.n_layers > kMaxLayers))
    throw UserError("n_layers: growth target " + std::to_string(to.n_layers) + ", but the model has " +
                    std::to_string(from.n_layers) + "; expected an integer in [" + std::to_string(from.n_layers) + ", " +
                    std::to_string(kMaxLayers) + "] (growth only adds blocks)");
  if (to.d_model != 0) check_width_target(from, to.d_model);
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

GrowthTarget growth_target_to(const ModelConfig& from, const ModelConfig& to, const std::string& where) {
  // A Transformer has no parameter tokens: its configs' token counts (defaulted from d)
  // are not a growth target.
  const bool tokens = from.architecture == Architecture::TokenFormer;
  GrowthTarget target{tokens ? to.qkv_tokens : from.qkv_tokens, tokens ? to.proj_tokens : from.proj_tokens,
                      tokens ? to.ffn_tokens : from.ffn_tokens, to.n_layers, to.d_model != from.d_model ? to.d_model : 0};
  try {
    if (target.d_model != 0) check_width_target(from, target.d_model);
  } catch (const UserError& e) {
    throw UserError(where + ": " + e.what());
  }
  const int64_t k = to.d_model / from.d_model;
  ModelConfig expect = to;  // what must match: everything growth does not change
  expect.qkv_tokens = from.qkv_tokens;
  expect.proj_tokens = from.proj_tokens;
  expect.ffn_tokens = from.ffn_tokens;
  if (expect.architecture != from.architecture)
    throw UserError(where + ": model.architecture is \"" + to_string(to.architecture) + "\" but the model grown from is a " +
                    to_string(from.architecture) + "; growth keeps the architecture");
  expect.n_layers = from.n_layers;
  expect.tau_mode = from.tau_mode;
  expect.d_model = from.d_model;
  if (to.n_heads != from.n_heads * k)
    throw UserError(where + ": model.n_heads " + std::to_string(to.n_heads) + ", expected " +
                    std::to_string(from.n_heads * k) + " (width growth x" + std::to_string(k) +
                    " duplicates the heads, keeping head_dim " + std::to_string(from.head_dim()) + ")");
  expect.n_heads = from.n_heads;
  if (to.ffn_hidden != from.ffn_hidden * k)  // (a TokenFormer holds it unused: kept in step all the same)
    throw UserError(where + ": model.ffn_hidden " + std::to_string(to.ffn_hidden) + ", expected " +
                    std::to_string(from.ffn_hidden * k) + " (width growth x" + std::to_string(k) +
                    " clones the MLP's hidden units)");
  expect.ffn_hidden = from.ffn_hidden;
  const nlohmann::json want = from.to_json(), got = expect.to_json();
  for (auto it = want.begin(); it != want.end(); ++it)
    if (got.at(it.key()) != it.value())
      throw UserError(where + ": model." + it.key() + " is " + got.at(it.key()).dump() + " but the model grown from has " +
                      it.value().dump() + "; growth changes token counts, n_layers and d_model (with n_heads "
                      "and ffn_hidden) only");
  return target;
}

namespace {
// The width factor k of a growth (1: unchanged).
int64_t width_factor(const ModelConfig& from, const ModelConfig& to) { return to.d_model / from.d_model; }

double rms(const Tensor& t) {
  double sum = 0;
  for (int64_t i = 0; i < t.numel(); ++i) sum += static_cast<double>(t[i]) * t[i];
  return t.numel() > 0 ? std::sqrt(sum / static_cast<double>(t.numel())) : 0.0;
}

ModelConfig grown_config(const ModelConfig& old_config, const GrowthTarget& target, const GrowthOptions& options) {
  ModelConfig config = old_config;
  config.qkv_tokens = target.qkv_tokens;
  config.proj_tokens = target.proj_tokens;
  config.ffn_tokens = target.ffn_tokens;
  if (target.n_layers != 0) config.n_layers = target.n_layers;
  if (target.d_model != 0) {  // heads and MLP widen with d (width_map.h)
    const int64_t k = target.d_model / old_config.d_model;
    config.d_model = target.d_model;
    config.n_heads = old_config.n_heads * k;
    config.ffn_hidden = old_config.ffn_hidden * k;  // unused by a TokenFormer, kept in step with d
  }
  config.tau_mode = grown_tau_mode(options.tau);
  return config;
}

// The name of the old parameter a grown one starts from ("" for a new block's).
std::string source_name(const std::string& name, const std::vector<int64_t>& sources) {
  const int64_t block = block_of(name);
  if (block < 0) return name;
  return sources[block] < 0 ? "" : block_parameter_name(sources[block], name_in_block(name));
}

// Parameters: old entries tiled from the source (width_map.h; a copy when the width is
// kept), with the symmetry noise; new token rows drawn from their own stream; a new
// identity block keeps a fresh model's draws with its residual-writing weights zeroed
// (depth_map.h).
void grow_parameters(LanguageModel& model, LanguageModel& grown, const std::vector<int64_t>& sources,
                     const GrowthOptions& options) {
  const ModelConfig& config = grown.config();
  const int64_t k = width_factor(model.config(), config);
  Rng noise_rng(options.seed ^ 0x3C6EF372FE94F82Bull);
  const float key_std = static_cast<float>(options.key_std >= 0 ? options.key_std : config.init_std);
  const float value_std =
      static_cast<float>(options.value_std >= 0 ? options.value_std : config.residual_init_std());
  Rng fresh(options.seed ^ 0xBB67AE8584CAA73Bull);
  grown.init(fresh);
  Rng rng(options.seed ^ 0x6A09E667F3BCC909ull);
  for (Parameter* p : grown.parameters()) {
    const std::string from = source_name(p->name, sources);
    if (from.empty()) {
      if (writes_residual(name_in_block(p->name))) p->value.zero();
      continue;
    }
    Parameter* old = model.find_parameter(from);
    tile_into(old->value, p->axes, k, width_value_scale(*p, k), p->value);
    add_symmetry_noise(*p, k, options.width_noise, rms(old->value), noise_rng);
    if (p->axes[0] != Axis::Tokens || p->value.dim(0) == old->value.dim(0)) continue;
    const int64_t old_numel = old->value.dim(0) * p->value.cols();  // new token rows follow the old ones
    const bool is_key = p->name.size() >= 5 && p->name.compare(p->name.size() - 5, 5, "/keys") == 0;
    const bool zero = is_key ? options.key_init == KeyInit::Zero : options.value_init == ValueInit::Zero;
    const float std = is_key ? key_std : value_std;
    for (int64_t i = old_numel; i < p->value.numel(); ++i) p->value[i] = zero ? 0.0f : std * static_cast<float>(rng.normal());
  }
}

// tau of every Pattention: a copied block's from its source (then the option), a new
// block's as a fresh layer's, sqrt(n).
void grow_tau(LanguageModel& model, LanguageModel& grown, const std::vector<int64_t>& sources,
              const GrowthOptions& options, const TrainState& state) {
  const auto& old_layers = model.pattentions();
  const auto& new_layers = grown.pattentions();
  const size_t per_block = new_layers.size() / sources.size();  // Q, K, V, proj, FFN
  for (size_t i = 0; i < new_layers.size(); ++i) {
    Pattention* n = new_layers[i];
    const float new_sqrt = std::sqrt(static_cast<float>(n->n_tokens()));
    const int64_t source = sources[i / per_block];
    if (source < 0) {
      n->set_tau(new_sqrt);
      continue;
    }
    Pattention* o = old_layers[static_cast<size_t>(source) * per_block + i % per_block];
    switch (options.tau) {
      case TauGrowth::Fixed: n->set_tau(o->tau()); break;
      case TauGrowth::Dynamic: n->set_tau(new_sqrt); break;
      case TauGrowth::Anneal:
        n->set_tau(o->tau());
        n->set_tau_anneal({o->tau(), new_sqrt, state.step, options.anneal_steps});
        break;
    }
  }
}

// Adam moments follow the weights: tiled from the source parameter, scaled with the
// gradient (m' = c m, v' = c^2 v, width_map.h; a copy when the width is kept), with its
// per-row step counts; new rows and new blocks start at zero with their own counts.
void grow_optimizer(AdamW& old_optimizer, AdamW& optimizer, LanguageModel& grown, const std::vector<int64_t>& sources,
                    int64_t k) {
  for (Parameter* p : grown.parameters()) {
    const std::string from = source_name(p->name, sources);
    if (from.empty()) continue;
    AdamWState& old_state = old_optimizer.state(from);
    AdamWState& new_state = optimizer.state(p->name);
    const float c = width_gradient_scale(*p, k);
    tile_into(old_state.exp_avg, p->axes, k, c, new_state.exp_avg);
    tile_into(old_state.exp_avg_sq, p->axes, k, c * c, new_state.exp_avg_sq);
    new_state.row_steps = tile_row_steps(old_state.row_steps, *p, k);
  }
}

// The old model's rows in the grown one, which freezing holds: every parameter's
// leading-axis rows it took from the old model, in the blocks that are the old ones (the
// first block copying each old block; a stacked or interleaved copy after it is new, as
// is an identity block).
std::map<std::string, int64_t> old_rows(LanguageModel& model, LanguageModel& grown, const std::vector<int64_t>& sources) {
  std::vector<bool> old_block(sources.size(), false);
  std::vector<bool> seen(static_cast<size_t>(model.config().n_layers), false);
  for (size_t j = 0; j < sources.size(); ++j)
    if (sources[j] >= 0 && !seen[sources[j]]) old_block[j] = seen[sources[j]] = true;
  std::map<std::string, int64_t> rows;
  for (Parameter* p : grown.parameters()) {
    const int64_t block = block_of(p->name);
    if (block >= 0 && !old_block[block]) continue;
    const std::string from = source_name(p->name, sources);
    const Tensor& old = model.find_parameter(from)->value;
    rows[p->name] = old.shape().size() == 1 ? 1 : old.shape()[0];
  }
  return rows;
}

std::vector<std::string> growth_notes(const ModelConfig& old_config, const ModelConfig& config,
                                      const GrowthOptions& options) {
  std::vector<std::string> notes;
  const bool tokens_grow = config.qkv_tokens != old_config.qkv_tokens || config.proj_tokens != old_config.proj_tokens ||
                           config.ffn_tokens != old_config.ffn_tokens;
  if (config.normalization == PattentionNorm::Softmax && options.key_init == KeyInit::Zero &&
      options.tau != TauGrowth::Dynamic && tokens_grow)
    notes.push_back("softmax normalisation: each zero new key scores exp(0) = 1 in every row's softmax, so old "
                    "tokens lose weight and new values gain it; zero keys are not exact for softmax "
                    "(docs/growth.md)");
  if (options.tau == TauGrowth::Dynamic && config.architecture == Architecture::TokenFormer && tokens_grow) {
    std::ostringstream note;
    note << "tau recomputed as sqrt(n): every old score is scaled by";
    for (auto [kind, o, n] : {std::tuple{"qkv", old_config.qkv_tokens, config.qkv_tokens},
                              std::tuple{"proj", old_config.proj_tokens, config.proj_tokens},
                              std::tuple{"ffn", old_config.ffn_tokens, config.ffn_tokens}})
      note << " " << kind << " x" << std::sqrt(static_cast<double>(n) / static_cast<double>(o));
    note << " (not output-preserving)";
    notes.push_back(note.str());
  }
  if (config.d_model != old_config.d_model)
    notes.push_back("width x" + std::to_string(config.d_model / old_config.d_model) + " (d_model " +
                    std::to_string(old_config.d_model) + " -> " + std::to_string(config.d_model) + ", heads " +
                    std::to_string(old_config.n_heads) + " -> " + std::to_string(config.n_heads) +
                    "): hidden vector cloned, zero-sum symmetry noise " + number(options.width_noise) +
                    (options.width_noise == 0 ? " (the copies stay identical: they never separate)" : ""));
  if (config.n_layers != old_config.n_layers && options.depth_init != DepthInit::Identity)
    notes.push_back(std::string("depth ") + kDepthInitNames.to_string(options.depth_init) +
                    ": copied blocks change the function (not output-preserving)");
  return notes;
}
}  // namespace

GrownModel grow_model(LanguageModel& model, AdamW* optimizer, const AdamWConfig& adam_config, const TrainState& state,
                      const GrowthTarget& target, const GrowthOptions& options) {
  const ModelConfig& old_config = model.config();
  check_growth_target(old_config, target);
  const ModelConfig config = grown_config(old_config, target, options);
  const std::vector<int64_t> sources =
      depth_sources(old_config.n_layers, config.n_layers, options.depth_init, options.depth_position);

  if (config.d_model != old_config.d_model && (!options.train_old || options.freeze_steps > 0))
    throw UserError("freezing (train_old false, freeze_steps) holds old rows and blocks; width growth tiles every "
                    "parameter, so no part of it is old: grow the width without freezing");

  GrownModel out;
  out.model = std::make_unique<LanguageModel>(config);
  LanguageModel& grown = *out.model;
  if (options.key_init == KeyInit::Zero && options.value_init == ValueInit::Zero)
    out.warnings.push_back("new keys and values are both zero: those tokens get exactly zero gradient and never train");
  grow_parameters(model, grown, sources, options);
  grow_tau(model, grown, sources, options, state);
  out.notes = growth_notes(old_config, config, options);
  out.optimizer = std::make_unique<AdamW>(adam_config, grown.parameters());
  if (optimizer && options.optimizer == OptimizerGrowth::Keep) grow_optimizer(*optimizer, *out.optimizer, grown, sources, width_factor(old_config, config));

  out.state = state;
  out.state.stage = state.stage + 1;
  out.state.stage_start_step = state.step;
  out.state.frozen_rows.clear();
  out.state.freeze_until_step = 0;
  if (!options.train_old || options.freeze_steps > 0) {
    out.state.frozen_rows = old_rows(model, grown, sources);
    out.state.freeze_until_step = options.train_old ? state.step + options.freeze_steps : TrainState::kFrozenForGood;
  }
  grown.set_step(state.step);
  return out;
}

}  // namespace tg
