#include "growth/growth_options.h"

#include "core/log.h"

namespace tg {

std::optional<GrowthOptionError> growth_options_error(const GrowthOptions& o) {
  if (o.tau == TauGrowth::Anneal && o.anneal_steps <= 0) return {{"anneal_steps", "must be > 0 when tau is \"anneal\""}};
  if (o.freeze_steps < 0) return {{"freeze_steps", "must be >= 0, got " + std::to_string(o.freeze_steps)}};
  if (!o.train_old && o.freeze_steps > 0)
    return {{"freeze_steps", "is not taken with train_old false (--freeze-old), which keeps the old rows frozen for "
                             "the whole stage; give one of the two"}};
  if (!(o.width_noise >= 0 && o.width_noise <= kMaxWidthNoise))
    return {{"width_noise", "must be in [0, " + line(kMaxWidthNoise) + "], got " + line(o.width_noise)}};
  if (o.depth_position == DepthPosition::Interleave && o.depth_init != DepthInit::Identity)
    return {{"depth_position", "places identity blocks; \"stack\" and \"interleave\" copies set their own order"}};
  return std::nullopt;
}

TauMode grown_tau_mode(TauGrowth tau) { return tau == TauGrowth::Dynamic ? TauMode::Dynamic : TauMode::Fixed; }

GrowthOptions parse_growth_options(ConfigReader r) {
  const GrowthOptions defaults;
  GrowthOptions o;
  o.key_init = r.get_enum("key_init", defaults.key_init, kKeyInitNames);
  o.value_init = r.get_enum("value_init", defaults.value_init, kValueInitNames);
  o.key_std = r.get_double("key_std", defaults.key_std, -1.0, 10.0);
  o.value_std = r.get_double("value_std", defaults.value_std, -1.0, 10.0);
  o.tau = r.get_enum("tau", defaults.tau, kTauGrowthNames);
  o.anneal_steps = r.get_int("anneal_steps", defaults.anneal_steps, 0, int64_t{1} << 40);
  o.optimizer = r.get_enum("optimizer", defaults.optimizer, kOptimizerGrowthNames);
  o.seed = static_cast<uint64_t>(r.get_int("seed", 0, 0, int64_t{1} << 53));
  o.depth_init = r.get_enum("depth_init", defaults.depth_init, kDepthInitNames);
  o.depth_position = r.get_enum("depth_position", defaults.depth_position, kDepthPositionNames);
  o.train_old = r.get_bool("train_old", defaults.train_old);
  o.freeze_steps = r.get_int("freeze_steps", defaults.freeze_steps, 0, int64_t{1} << 40);
  o.width_noise = r.get_double("width_noise", defaults.width_noise, 0.0, kMaxWidthNoise);
  if (const auto error = growth_options_error(o)) r.fail(error->key, error->message);
  r.finish();
  return o;
}

nlohmann::json GrowthOptions::to_json() const {
  return {{"key_init", kKeyInitNames.to_string(key_init)},
          {"value_init", kValueInitNames.to_string(value_init)},
          {"key_std", key_std},
          {"value_std", value_std},
          {"tau", kTauGrowthNames.to_string(tau)},
          {"anneal_steps", anneal_steps},
          {"optimizer", kOptimizerGrowthNames.to_string(optimizer)},
          {"seed", seed},
          {"depth_init", kDepthInitNames.to_string(depth_init)},
          {"depth_position", kDepthPositionNames.to_string(depth_position)},
          {"train_old", train_old},
          {"freeze_steps", freeze_steps},
          {"width_noise", width_noise}};
}

}  // namespace tg
