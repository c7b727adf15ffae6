#pragma once
// Width growth, HyperCloning's way (Samragh et al. 2024): d -> k d, function-preserving.
//
// The residual stream is cloned, x -> [x, x, .., x] (k copies, concatenated). Mean and
// variance over k d entries equal those over d, so the non-affine block LayerNorms map
// [x, .., x] to [LN x, .., LN x] (eps included). Every parameter is tiled k times along
// its Model and Hidden axes and divided by k where the tiled axis is the one its product
// sums over (Parameter::contracted_axis), so a sum over k d inputs equals the old sum:
//   Linear W (d_out x d_in)      -> k x k blocks W / k          y' = [y, .., y]
//   Pattention keys K (n x d)    -> [K/k, .., K/k] (n x k d)     A' = X' K'^T = A
//   Pattention values V (n x d)  -> [V, .., V]                   Y' = S V' = [Y, .., Y]
//   MLP up (h x d), down (d x h) -> (k h x k d), (k d x k h) blocks of W / k
//   embedding E (V x d)          -> [E, .., E]                   the input is [x, .., x]
//   final norm w, b (d)          -> [w/k, ..], [b/k, ..]         logits sum_j y'_j E^T = y E^T
// Heads: n_heads -> k n_heads with head_dim unchanged, so grown head h + i H is old head
// h (rotary dims and 1 / sqrt(head_dim) unchanged). Token counts and tau are kept: the
// scores are unchanged, so every Pattention normalisation stays exact.
//
// Symmetry: with identical copies every gradient is identical across copies and they
// never separate. `noise` adds to each parameter tiled along its contracted axis a
// perturbation N_j per copy j of that axis with sum_j N_j = 0 (N(0, (noise rms(W / k))^2)
// draws, centred over j, independently per entry of the other axis): the forward sum is
// unchanged (exact up to rounding), but dL/dx differs between the copies of an input, so
// the copies separate from the first backward on.
//
// Gradients at the moment of growth: every activation of width k d carries 1/k of its old
// gradient, except the final norm's output (the tied head reads it with the undivided E).
// So a parameter's gradient is c = 1/k of the old one when an axis it does not sum over
// is cloned (Linear, values, embedding), and c = 1 for keys (their outputs, the scores,
// are unchanged) and the final norm. Adam moments map as m' = c m, v' = c^2 v, tiled like
// the weight: every copy's first update then equals the old model's update, but for two
// terms the mapping cannot scale: decoupled weight decay acts on W / k, and Adam's eps
// stays while sqrt(v') = c sqrt(v) (docs/growth.md).
#include <cstdint>
#include <string>
#include <vector>

#include "core/parameter.h"
#include "core/rng.h"

namespace tg {

// True for the axes width growth clones.
bool widens(Axis axis);

// Copies `old` into `grown`: tiled along Model and Hidden axes (grown dim = k x old dim),
// old entries first along Tokens (entries past them untouched: new tokens), unchanged
// along Vocab; each entry times `scale`.
void tile_into(const Tensor& old, const std::vector<Axis>& axes, int64_t k, float scale, Tensor& grown);

// The factor a parameter's tiled values are multiplied by (1/k or 1), and the ratio of its
// gradient to the old one's at the moment of growth (c above).
float width_value_scale(const Parameter& p, int64_t k);
float width_gradient_scale(const Parameter& p, int64_t k);

// Adds the zero-sum symmetry-breaking noise to a parameter tiled along its contracted
// axis (the last axis); `old_rms` is the old parameter's rms. No-op for k = 1 or noise 0.
void add_symmetry_noise(Parameter& p, int64_t k, double noise, double old_rms, Rng& rng);

// Per-row Adam step counts of a tiled parameter: rows along a cloned leading axis repeat,
// rows along Tokens are the old ones first, new rows 0.
std::vector<int64_t> tile_row_steps(const std::vector<int64_t>& old, const Parameter& p, int64_t k);

}  // namespace tg
