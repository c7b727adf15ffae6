#pragma once
// The precision of a model's matmuls.
//   fp32: float32 everywhere.
//   bf16: mixed precision: matmul inputs are rounded to bfloat16 (core/bf16.h) and
//         multiplied with float32 accumulation and float32 results; master weights,
//         gradients, optimizer state, normalisations, softmax and losses stay float32.
#include <cstdint>
#include <string>

#include "core/bf16.h"
#include "core/enum_names.h"

namespace tg {

enum class Precision { FP32, BF16 };
inline constexpr EnumNames<Precision, 2> kPrecisionNames{"precision", {{{Precision::FP32, "fp32"}, {Precision::BF16, "bf16"}}}};

inline std::string to_string(Precision p) { return kPrecisionNames.to_string(p); }

// One matmul input in a layer's precision: the float32 data itself (fp32), or a bf16
// copy of it kept in a layer-owned buffer (bf16).
struct MatmulInput {
  const float* f32 = nullptr;
  const bf16* b16 = nullptr;
  // The input starting `elements` further on (a block of a larger matrix).
  MatmulInput at(int64_t elements) const {
    return {f32 ? f32 + elements : nullptr, b16 ? b16 + elements : nullptr};
  }
};

// fp32: `data` as is. bf16: converts n floats of `data` into `copy` first.
inline MatmulInput matmul_input(Precision p, const float* data, int64_t n, Bf16Buffer& copy) {
  if (p == Precision::FP32) return {data, nullptr};
  copy.assign(data, n);
  return {nullptr, copy.data()};
}

// The same input again, without converting: `copy` must still hold bf16(data).
inline MatmulInput matmul_input_again(Precision p, const float* data, const Bf16Buffer& copy) {
  return p == Precision::FP32 ? MatmulInput{data, nullptr} : MatmulInput{nullptr, copy.data()};
}

}  // namespace tg
