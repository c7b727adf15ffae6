#pragma once
// Integer matmul for inference with BitNet weights (docs/bitnet.md, "Inference"):
//   C (m x n, int32) = A (m x k, int8) op(B)    op(B) k x n: B stored k x n (Trans::No)
//                                               or n x k (Trans::Yes), int8
// on oneDNN's s8 x s8 -> s32 matmul. oneDNN 2.6 takes the signed source directly: its
// x86 kernels multiply an unsigned byte by a signed one, so it adds 128 to the source and
// subtracts 128 x the weights' column sums (its compensation) itself.
//
// Exactness: with VNNI (AVX512-VNNI, AVX-VNNI) every product is summed in int32. Without
// it (AVX2, AVX-512 without VNNI) the kernels use vpmaddubsw, which adds two adjacent
// u8 x s8 products in int16 with saturation: exact while 2 x 255 x |b| <= 32767, i.e.
// |b| <= 63. BitNet's levels are in {-1, 0, +1}, so the product is exact on every CPU
// oneDNN runs on; callers with larger weights must keep |b| <= 63. Sums are int32.
//
// A primitive is built the first time a shape is seen and kept in the engine's workspace
// (one cache per engine, no global state).
#include <cstdint>

#include "core/engine.h"

namespace tg {

void matmul_s8s8s32(Engine& engine, const int8_t* a, const int8_t* b, Trans trans_b, int32_t* c, int64_t m,
                    int64_t n, int64_t k);

}  // namespace tg
