#include "growth/growth_options.h"

#include "core/error.h"

namespace tg {

namespace {
template <class E>
E pick(const std::string& what, const std::string& s, std::initializer_list<std::pair<const char*, E>> choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (s == name) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw UserError(what + ": expected one of " + names + ", got \"" + s + "\"");
}
}  // namespace

KeyInit parse_key_init(const std::string& s) {
  return pick<KeyInit>("key init", s, {{"zero", KeyInit::Zero}, {"normal", KeyInit::Normal}});
}
ValueInit parse_value_init(const std::string& s) {
  return pick<ValueInit>("value init", s, {{"normal", ValueInit::Normal}, {"zero", ValueInit::Zero}});
}
TauGrowth parse_tau_growth(const std::string& s) {
  return pick<TauGrowth>("tau", s, {{"fixed", TauGrowth::Fixed}, {"dynamic", TauGrowth::Dynamic}, {"anneal", TauGrowth::Anneal}});
}
OptimizerGrowth parse_optimizer_growth(const std::string& s) {
  return pick<OptimizerGrowth>("optimizer", s, {{"keep", OptimizerGrowth::Keep}, {"reset", OptimizerGrowth::Reset}});
}

DepthInit parse_depth_init(const std::string& s) {
  return pick<DepthInit>("depth init", s,
                         {{"identity", DepthInit::Identity}, {"stack", DepthInit::Stack}, {"interleave", DepthInit::Interleave}});
}
DepthPosition parse_depth_position(const std::string& s) {
  return pick<DepthPosition>("depth position", s, {{"end", DepthPosition::End}, {"interleave", DepthPosition::Interleave}});
}

std::string default_growth_choice(const std::string& key) {
  return GrowthOptions().to_json().at(key).get<std::string>();
}

GrowthOptions parse_growth_options(ConfigReader r) {
  GrowthOptions o;
  o.key_init = parse_key_init(r.get_string("key_init", default_growth_choice("key_init"), {"zero", "normal"}));
  o.value_init =
      parse_value_init(r.get_string("value_init", default_growth_choice("value_init"), {"normal", "zero"}));
  o.key_std = r.get_double("key_std", -1.0, -1.0, 10.0);
  o.value_std = r.get_double("value_std", -1.0, -1.0, 10.0);
  o.tau = parse_tau_growth(r.get_string("tau", default_growth_choice("tau"), {"fixed", "dynamic", "anneal"}));
  o.anneal_steps = r.get_int("anneal_steps", 0, 0, int64_t{1} << 40);
  if (o.tau == TauGrowth::Anneal && o.anneal_steps == 0) r.fail("anneal_steps", "must be > 0 when tau is \"anneal\"");
  o.optimizer =
      parse_optimizer_growth(r.get_string("optimizer", default_growth_choice("optimizer"), {"keep", "reset"}));
  o.seed = static_cast<uint64_t>(r.get_int("seed", 0, 0, int64_t{1} << 53));
  o.depth_init = parse_depth_init(r.get_string("depth_init", default_growth_choice("depth_init"),
                                               {"identity", "stack", "interleave"}));
  o.depth_position = parse_depth_position(r.get_string("depth_position", default_growth_choice("depth_position"),
                                                       {"end", "interleave"}));
  o.train_old = r.get_bool("train_old", true);
  o.freeze_steps = r.get_int("freeze_steps", 0, 0, int64_t{1} << 40);
  o.width_noise = r.get_double("width_noise", GrowthOptions().width_noise, 0.0, kMaxWidthNoise);
  if (!o.train_old && o.freeze_steps > 0)
    r.fail("freeze_steps", "with train_old false the old rows stay frozen for the whole stage; give one of the two");
  if (o.depth_position == DepthPosition::Interleave && o.depth_init != DepthInit::Identity)
    r.fail("depth_position", "places identity blocks; \"stack\" and \"interleave\" copies set their own order");
  r.finish();
  return o;
}

nlohmann::json GrowthOptions::to_json() const {
  const char* tau_names[] = {"fixed", "dynamic", "anneal"};
  const char* depth_names[] = {"identity", "stack", "interleave"};
  return {{"key_init", key_init == KeyInit::Zero ? "zero" : "normal"},
          {"value_init", value_init == ValueInit::Zero ? "zero" : "normal"},
          {"key_std", key_std},
          {"value_std", value_std},
          {"tau", tau_names[static_cast<int>(tau)]},
          {"anneal_steps", anneal_steps},
          {"optimizer", optimizer == OptimizerGrowth::Keep ? "keep" : "reset"},
          {"seed", seed},
          {"depth_init", depth_names[static_cast<int>(depth_init)]},
          {"depth_position", depth_position == DepthPosition::End ? "end" : "interleave"},
          {"train_old", train_old},
          {"freeze_steps", freeze_steps},
          {"width_noise", width_noise}};
}

}  // namespace tg
