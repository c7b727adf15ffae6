#pragma once
// bfloat16 storage for mixed-precision matmuls: the upper 16 bits of an IEEE float32
// (8-bit exponent, 8-bit mantissa incl. the implicit bit), so it has float32's range
// and a relative rounding error of at most 2^-8 = 0.4% (round to nearest).
//
// Only matmul inputs are stored in bf16; sums, master weights, optimizer state and
// every normalisation stay in float32.
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

namespace tg {

using bf16 = uint16_t;

// Round to nearest even, as the hardware conversion (vcvtneps2bf16) does. NaN stays NaN.
inline bf16 float_to_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<bf16>(bits >> 16);
}

inline float bf16_to_float(bf16 x) {
  const uint32_t bits = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// dst[i] = float_to_bf16(src[i]) for i < n, vectorised and split across threads.
void convert_to_bf16(const float* src, bf16* dst, int64_t n);
// The same on the calling thread only (for a row inside a parallel loop).
void convert_row_to_bf16(const float* src, bf16* dst, int64_t n);

// A grow-only, 64-byte aligned bf16 array: the bf16 copy of an activation or weight,
// allocated on the first step and reused afterwards.
class Bf16Buffer {
 public:
  bf16* data() { return data_.get(); }
  const bf16* data() const { return data_.get(); }
  int64_t size() const { return size_; }
  // Sets the size; contents are unspecified unless it was this size before.
  void resize(int64_t n) {
    if (n > capacity_) {
      data_.reset(static_cast<bf16*>(::operator new[](sizeof(bf16) * n, std::align_val_t(64))));
      capacity_ = n;
    }
    size_ = n;
  }
  // Resizes to n and converts src into it.
  void assign(const float* src, int64_t n) {
    resize(n);
    convert_to_bf16(src, data(), n);
  }

 private:
  struct AlignedDelete {
    void operator()(bf16* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  int64_t size_ = 0, capacity_ = 0;
  std::unique_ptr<bf16[], AlignedDelete> data_;
};

}  // namespace tg
