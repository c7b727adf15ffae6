#pragma once
// The growth operators: append parameter tokens to every Pattention layer (TokenFormer),
// add blocks (depth_map.h: identity, stack, interleave) and widen d -> k d (width_map.h:
// HyperCloning; both architectures), composable in one step: each parameter of the grown
// model starts from the parameter of the same name in its source block (core/parameter.h),
// tiled along its width axes, with the token rows appended.
//
// For a layer with n_old tokens grown to n_new, the new K and V are
//   K' = [K; K_new] (n_new x d_in),  V' = [V; V_new] (n_new x d_out)
// with old rows copied bit for bit. Why zero new keys with a kept tau is exact for
// l2_norm_gelu and gelu_l2_norm: the new scores A_new = X K_new^T are 0, so row norms
// are unchanged, the old normalised scores are unchanged, and GELU(0) = 0 makes
// S_new V_new vanish whatever V_new is. Their gradient is not zero: dK_new = dA_new^T X
// with dA_new = tau/r * GELU'(0) * (dY V_new^T) (projected), non-zero when V_new != 0.
// With V_new = 0 as well, dV_new = S_new^T dY = 0 and dK_new = 0: those tokens never train.
// Not for softmax: a zero key scores exp(0) = 1, so with m new tokens every row's
// denominator grows from Z to Z + m, the old weights shrink by Z / (Z + m) (a factor
// that differs from row to row, so no tau undoes it) and the new values get weight
// tau^2 / (Z + m). No finite key scores exp(-inf) = 0 (docs/growth.md). grow_model
// adds a note; callers measure the change (grow_checkpoint.h) and call nothing exact
// that was not measured so.
#include <memory>
#include <string>
#include <vector>

#include "growth/growth_options.h"
#include "model/language_model.h"
#include "train/adamw.h"
#include "train/train_state.h"

namespace tg {

struct GrowthTarget {
  int64_t qkv_tokens = 0, proj_tokens = 0, ffn_tokens = 0;
  int64_t n_layers = 0;  // depth growth (depth_map.h); 0: unchanged
  int64_t d_model = 0;   // width growth (width_map.h): a multiple k of d; 0: unchanged
};

struct GrownModel {
  std::unique_ptr<LanguageModel> model;
  std::unique_ptr<AdamW> optimizer;
  TrainState state;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;  // what changed, e.g. the tau rescale per kind
};

// Throws UserError when the target shrinks the model, appends tokens to a model that is
// not a TokenFormer, widens by a factor that is not an integer, or is beyond a config's
// limits.
GrowthTarget growth_target_from_factor(const ModelConfig& from, double factor);
void check_growth_target(const ModelConfig& from, const GrowthTarget& to);
// The growth that turns `from` into `to` (a run config's or an experiment stage's model):
// token counts (TokenFormer; a config's defaults d, d, 4d count, so a config that widens d
// without giving them grows the tokens too), n_layers and d_model; n_heads and ffn_hidden
// must widen by d's factor, and everything else must match. Throws UserError naming
// `where` and the key.
GrowthTarget growth_target_to(const ModelConfig& from, const ModelConfig& to, const std::string& where);

// `optimizer` may be null (then the result has a fresh optimizer whatever the
// option). The returned state is the old one with stage + 1 and stage_start_step
// = step: training the result starts a new stage.
GrownModel grow_model(LanguageModel& model, AdamW* optimizer, const AdamWConfig& adam_config, const TrainState& state,
                      const GrowthTarget& target, const GrowthOptions& options);

}  // namespace tg
