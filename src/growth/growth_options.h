#pragma once
// How new parameter tokens are added to every Pattention layer.
#include <cstdint>
#include <optional>
#include <string>

#include "core/config_reader.h"
#include "core/enum_names.h"
#include "model/model_config.h"

namespace tg {

enum class KeyInit { Zero, Normal };
inline constexpr EnumNames<KeyInit, 2> kKeyInitNames{"key init", {{{KeyInit::Zero, "zero"}, {KeyInit::Normal, "normal"}}}};
enum class ValueInit { Normal, Zero };
inline constexpr EnumNames<ValueInit, 2> kValueInitNames{"value init", {{{ValueInit::Normal, "normal"}, {ValueInit::Zero, "zero"}}}};
// fixed: keep each layer's tau (with zero new keys growth is exact for l2_norm_gelu and
// gelu_l2_norm, not for softmax: grow.h);
// dynamic: tau = sqrt(new n), as the reference code (not exact);
// anneal: tau kept at growth (exact when fixed is), then moved linearly to sqrt(new n)
// over anneal_steps.
enum class TauGrowth { Fixed, Dynamic, Anneal };
inline constexpr EnumNames<TauGrowth, 3> kTauGrowthNames{
    "tau", {{{TauGrowth::Fixed, "fixed"}, {TauGrowth::Dynamic, "dynamic"}, {TauGrowth::Anneal, "anneal"}}}};
// keep: old Adam moments kept, new rows start at zero moments with their own step
// count (their first update is an ordinary first Adam step); reset: fresh optimizer.
enum class OptimizerGrowth { Keep, Reset };
inline constexpr EnumNames<OptimizerGrowth, 2> kOptimizerGrowthNames{
    "optimizer", {{{OptimizerGrowth::Keep, "keep"}, {OptimizerGrowth::Reset, "reset"}}}};
// Depth growth (depth_map.h): identity (new blocks that return their input: exact),
// stack (G_stack: the blocks copied in order), interleave (each block copied after itself).
enum class DepthInit { Identity, Stack, Interleave };
inline constexpr EnumNames<DepthInit, 3> kDepthInitNames{
    "depth init", {{{DepthInit::Identity, "identity"}, {DepthInit::Stack, "stack"}, {DepthInit::Interleave, "interleave"}}}};
// Where identity blocks go: after the old ones, or spread between them.
enum class DepthPosition { End, Interleave };
inline constexpr EnumNames<DepthPosition, 2> kDepthPositionNames{
    "depth position", {{{DepthPosition::End, "end"}, {DepthPosition::Interleave, "interleave"}}}};

// The largest width_noise accepted: noise far above the weights' rms is no growth.
constexpr double kMaxWidthNoise = 10.0;

struct GrowthOptions {
  // Defaults: the measured best recipe of configs/growth-small.json
  // (docs/results/growth-small.md; keep and reset moments tie there, and keep loses no
  // optimizer state). The config parser and `tokengrow grow` take their defaults from here.
  KeyInit key_init = KeyInit::Normal;
  ValueInit value_init = ValueInit::Normal;
  double key_std = -1;    // < 0: the model's init_std
  double value_std = -1;  // < 0: the model's value init, ModelConfig::residual_init_std()
  TauGrowth tau = TauGrowth::Dynamic;
  int64_t anneal_steps = 0;
  OptimizerGrowth optimizer = OptimizerGrowth::Keep;
  uint64_t seed = 0;      // draws of the new rows
  DepthInit depth_init = DepthInit::Identity;
  DepthPosition depth_position = DepthPosition::End;
  // Freezing: train_old false keeps every old row (old tokens, old blocks, embedding,
  // final norm) frozen for the whole stage, only new rows and blocks train;
  // freeze_steps K > 0 freezes them for the stage's first K steps, then all train.
  bool train_old = true;
  int64_t freeze_steps = 0;
  // Width growth (width_map.h): std of the zero-sum symmetry-breaking noise relative to
  // each tiled weight's rms. Forward-exact at any value; 0 leaves the copies identical
  // for good (they then train as one model of the old width).
  double width_noise = 0.1;

  nlohmann::json to_json() const;
};

// A rule the options break together: the key (as in configs) it is reported on and
// what is wrong, e.g. {"anneal_steps", "must be > 0 when tau is \"anneal\""}.
struct GrowthOptionError {
  std::string key, message;
};
// The checks every set of options must pass, wherever it was read from (a config's
// growth object, `tokengrow grow`'s flags): the ranges a reader cannot know alone and
// the options that exclude each other. The first broken rule, or none.
std::optional<GrowthOptionError> growth_options_error(const GrowthOptions& options);

GrowthOptions parse_growth_options(ConfigReader reader);

// The grown model's tau mode: dynamic growth keeps tau = sqrt(n) from then on
// (TauMode::Dynamic); fixed and anneal store tau per layer (anneal moves the stored value).
TauMode grown_tau_mode(TauGrowth tau);

}  // namespace tg
