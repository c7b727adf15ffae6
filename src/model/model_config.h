#pragma once
// The architecture of a language model: everything needed to build it and to
// read its checkpoint. Parsed from the "model" object of a run config.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config_reader.h"
#include "core/enum_names.h"
#include "core/precision.h"
#include "layers/pattention.h"
#include "layers/weight_quantization.h"

namespace tg {

enum class Architecture { TokenFormer, Transformer };
inline constexpr EnumNames<Architecture, 2> kArchitectureNames{
    "architecture", {{{Architecture::TokenFormer, "tokenformer"}, {Architecture::Transformer, "transformer"}}}};

// The most parameter tokens of one Pattention kind a config (and a growth target) may have.
inline constexpr int64_t kMaxTokens = int64_t{1} << 20;
inline constexpr int64_t kMaxLayers = 1024;  // blocks a config may have
inline constexpr int64_t kMaxDModel = int64_t{1} << 16;
inline constexpr int64_t kMaxHeads = 1024;
inline constexpr int64_t kMaxHidden = int64_t{1} << 20;  // the Transformer's MLP width
// fixed: tau is a stored per-layer number (sqrt(n) at creation) that growth keeps.
// dynamic: tau = sqrt(current n), recomputed whenever n changes (the reference code).
enum class TauMode { Fixed, Dynamic };
inline constexpr EnumNames<TauMode, 2> kTauModeNames{"tau mode", {{{TauMode::Fixed, "fixed"}, {TauMode::Dynamic, "dynamic"}}}};

struct ModelConfig {
  Architecture architecture = Architecture::TokenFormer;
  int64_t vocab_size = 256;
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t seq_len = 128;
  // TokenFormer: parameter tokens per Pattention kind.
  int64_t qkv_tokens = 128;
  int64_t proj_tokens = 128;
  int64_t ffn_tokens = 512;
  // Transformer baseline: MLP hidden width.
  int64_t ffn_hidden = 512;
  double rotary_fraction = 0.25;
  double rotary_base = 10000.0;
  PattentionNorm normalization = PattentionNorm::L2NormGelu;
  TauMode tau_mode = TauMode::Fixed;
  double init_std = 0.02;
  Precision precision = Precision::FP32;  // of the matmuls (core/precision.h)
  // Pattention keys/values and the Transformer's linears: float, or BitNet binary/ternary
  // (docs/bitnet.md); the embedding (and so the logits) and the norms stay float.
  WeightFormat weights = WeightFormat::Float;

  int64_t head_dim() const { return d_model / n_heads; }
  // The init std of what writes into the residual stream (output projections, FFN
  // values, the MLP's second matrix): GPT-NeoX's "wang_init", 2 / (n_layers sqrt(d_model)).
  double residual_init_std() const;
  nlohmann::json to_json() const;
};

// Reads and validates the "model" object (unknown keys and impossible shapes are errors).
ModelConfig parse_model_config(ConfigReader reader);

inline std::string to_string(Architecture a) { return kArchitectureNames.to_string(a); }
inline std::string to_string(TauMode m) { return kTauModeNames.to_string(m); }

}  // namespace tg
