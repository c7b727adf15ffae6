#pragma once
// The measured matmul peak of this CPU, the denominator of MFU (model FLOPs utilisation).
#include "core/engine.h"

namespace tg {

enum class MatmulType { F32, BF16 };  // BF16: bf16 inputs, f32 accumulation and output

// GFLOP/s of the best of `reps` timed square m = n = k = `size` oneDNN matmuls of the
// given type (after one warm-up run), on the engine's threads.
double measure_peak_gflops(Engine& engine, MatmulType type, int64_t size = 2048, int reps = 5);

}  // namespace tg
