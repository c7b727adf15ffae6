#pragma once
// The row-wise score normalisations of Pattention (layers/pattention.h) and their
// backward, one row of n scores at a time, vectorised (Eigen arrays; erf and exp by
// Eigen's AVX-512 rational/polynomial kernels, within a few ulp of the exact functions).
//
// Each row is read from memory once per pass and stays in L1 between the passes
// (n <= a few thousand floats), so forward and backward each cost one trip over
// the score matrix.
#include <cstdint>

#include "core/bf16.h"
#include "layers/pattention.h"

namespace tg {

struct PattentionNormRows {
  PattentionNorm norm;
  float tau;
  float eps;  // inside the square root of the L2 norms
};

// For each of `rows` rows of length n: S = normalise(A); R[t] = the row's norm
// (L2 variants; unused for softmax). S16, if not null, receives bf16(S) too. S may be
// null when S16 is not: each row is then built in `row_scratch` (threads x n floats).
void pattention_norm_forward(const PattentionNormRows& p, const float* A, float* S, bf16* S16, float* row_scratch,
                             float* R, int64_t rows, int64_t n);

// D holds dL/dS on entry and dL/dA on return (in place); A, S, R from the forward
// (S is not read for l2_norm_gelu and may be null there).
void pattention_norm_backward(const PattentionNormRows& p, const float* A, const float* S, const float* R, float* D,
                              int64_t rows, int64_t n);

}  // namespace tg
