#pragma once
// Depth growth: which old block each block of the grown model starts from.
//
// sources[j] = i: new block j is a copy of old block i (weights, tau and Adam moments);
// sources[j] = -1: a new identity block: its weights drawn as a fresh model's, then the
// weights that write into the residual stream set to zero (the output projection's and
// the FFN's values for TokenFormer, the out-projection and MLP-down weights for the
// Transformer), so the block returns its input and the growth is exact:
//   h = x + P(Attn(...)) = x,   out = h + F(LN h) = h,   as P and F output 0.
// Identity blocks still train: the zeroed matrices get non-zero gradients at once
// (dV_proj = S_proj^T dY, S_proj != 0), while the matrices behind them (Q, K, V, the
// projection's and FFN's keys, the MLP-up weight) get exactly zero gradient on the first
// step (every path to the loss runs through a zeroed matrix) and start moving from the
// second (docs/growth.md).
//
// With L old and L' >= L new blocks:
//   identity, position end:         [0, 1, .., L-1, -1, .., -1]
//   identity, position interleave:  old block i at position floor(i L' / L), -1 elsewhere
//   stack (G_stack):                j -> j mod L         ([0..L-1, 0..L-1] for L' = 2L)
//   interleave (copy):              j -> floor(j L / L') ([0, 0, 1, 1, ..] for L' = 2L)
#include <cstdint>
#include <string>
#include <vector>

#include "growth/growth_options.h"

namespace tg {

std::vector<int64_t> depth_sources(int64_t old_layers, int64_t new_layers, DepthInit init, DepthPosition position);

// True for a block parameter (its name inside the block, core/parameter.h) whose
// output is added to the residual stream.
bool writes_residual(const std::string& local_name);

}  // namespace tg
