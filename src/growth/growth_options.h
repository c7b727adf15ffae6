#pragma once
// How new parameter tokens are added to every Pattention layer.
#include <cstdint>
#include <string>

#include "core/config_reader.h"

namespace tg {

enum class KeyInit { Zero, Normal };
enum class ValueInit { Normal, Zero };
// fixed: keep each layer's tau (with zero new keys growth is exact for l2_norm_gelu and
// gelu_l2_norm, not for softmax: grow.h);
// dynamic: tau = sqrt(new n), as the reference code (not exact);
// anneal: tau kept at growth (exact when fixed is), then moved linearly to sqrt(new n)
// over anneal_steps.
enum class TauGrowth { Fixed, Dynamic, Anneal };
// keep: old Adam moments kept, new rows start at zero moments with their own step
// count (their first update is an ordinary first Adam step); reset: fresh optimizer.
enum class OptimizerGrowth { Keep, Reset };
// Depth growth (depth_map.h): identity (new blocks that return their input: exact),
// stack (G_stack: the blocks copied in order), interleave (each block copied after itself).
enum class DepthInit { Identity, Stack, Interleave };
// Where identity blocks go: after the old ones, or spread between them.
enum class DepthPosition { End, Interleave };

// The largest width_noise accepted: noise far above the weights' rms is no growth.
constexpr double kMaxWidthNoise = 10.0;

struct GrowthOptions {
  // Defaults: the measured best recipe of configs/growth-small.json
  // (docs/results/growth-small.md; keep and reset moments tie there, and keep loses no
  // optimizer state). The config parser and `tokengrow grow` take their defaults from here.
  KeyInit key_init = KeyInit::Normal;
  ValueInit value_init = ValueInit::Normal;
  double key_std = -1;    // < 0: the model's init_std
  double value_std = -1;  // < 0: the model's value init, 2 / (n_layers sqrt(d))
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

GrowthOptions parse_growth_options(ConfigReader reader);
// The default of a named option (key_init, value_init, tau, optimizer) as written in configs.
std::string default_growth_choice(const std::string& key);
KeyInit parse_key_init(const std::string& s);
ValueInit parse_value_init(const std::string& s);
TauGrowth parse_tau_growth(const std::string& s);
OptimizerGrowth parse_optimizer_growth(const std::string& s);
DepthInit parse_depth_init(const std::string& s);
DepthPosition parse_depth_position(const std::string& s);

}  // namespace tg
