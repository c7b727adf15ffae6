#include "model/model_config.h"

#include <cmath>

namespace tg {

ModelConfig parse_model_config(ConfigReader r) {
  ModelConfig c;
  const int64_t big = int64_t{1} << 20;
  c.architecture = r.get_enum("architecture", Architecture::TokenFormer, kArchitectureNames);
  c.vocab_size = r.get_int("vocab_size", 256, 2, big);
  c.d_model = r.get_int("d_model", std::nullopt, 1, kMaxDModel);
  c.n_layers = r.get_int("n_layers", std::nullopt, 1, kMaxLayers);
  c.n_heads = r.get_int("n_heads", std::nullopt, 1, kMaxHeads);
  c.seq_len = r.get_int("seq_len", std::nullopt, 1, big);
  if (c.d_model % c.n_heads != 0)
    r.fail("n_heads", "d_model " + std::to_string(c.d_model) + " is not divisible by n_heads " + std::to_string(c.n_heads));
  // Token counts are read for both architectures so that one config can switch
  // architecture; they only shape TokenFormer layers.
  c.qkv_tokens = r.get_int("qkv_tokens", c.d_model, 1, kMaxTokens);
  c.proj_tokens = r.get_int("proj_tokens", c.d_model, 1, kMaxTokens);
  c.ffn_tokens = r.get_int("ffn_tokens", 4 * c.d_model, 1, kMaxTokens);
  c.ffn_hidden = r.get_int("ffn_hidden", 4 * c.d_model, 1, kMaxHidden);
  c.rotary_fraction = r.get_double("rotary_fraction", 0.25, 0.0, 1.0);
  c.rotary_base = r.get_double("rotary_base", 10000.0, 1.0, 1e9);
  c.normalization = r.get_enum("normalization", PattentionNorm::L2NormGelu, kPattentionNormNames);
  c.tau_mode = r.get_enum("tau_mode", TauMode::Fixed, kTauModeNames);
  c.init_std = r.get_double("init_std", 0.02, 0.0, 10.0);
  c.precision = r.get_enum("precision", Precision::FP32, kPrecisionNames);
  c.weights = r.get_enum("weights", WeightFormat::Float, kWeightFormatNames);
  r.finish();
  return c;
}

double ModelConfig::residual_init_std() const {
  return 2.0 / (static_cast<double>(n_layers) * std::sqrt(static_cast<double>(d_model)));
}

nlohmann::json ModelConfig::to_json() const {
  return {{"architecture", to_string(architecture)},
          {"vocab_size", vocab_size},
          {"d_model", d_model},
          {"n_layers", n_layers},
          {"n_heads", n_heads},
          {"seq_len", seq_len},
          {"qkv_tokens", qkv_tokens},
          {"proj_tokens", proj_tokens},
          {"ffn_tokens", ffn_tokens},
          {"ffn_hidden", ffn_hidden},
          {"rotary_fraction", rotary_fraction},
          {"rotary_base", rotary_base},
          {"normalization", to_string(normalization)},
          {"tau_mode", to_string(tau_mode)},
          {"init_std", init_std},
          {"precision", to_string(precision)},
          {"weights", to_string(weights)}};
}

}  // namespace tg
