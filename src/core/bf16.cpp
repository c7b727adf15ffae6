#include "core/bf16.h"

#include <algorithm>

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace tg {

void convert_row_to_bf16(const float* src, bf16* dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512BF16__)
  for (; i + 16 <= n; i += 16) {
    const __m256bh packed = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), reinterpret_cast<const __m256i&>(packed));
  }
#endif
  for (; i < n; ++i) dst[i] = float_to_bf16(src[i]);
}

void convert_to_bf16(const float* src, bf16* dst, int64_t n) {
  // 64 KiB chunks per thread: large enough to amortise the split, small enough to share.
  constexpr int64_t chunk = 16384;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * chunk;
    convert_row_to_bf16(src + begin, dst + begin, std::min(chunk, n - begin));
  }
}

}  // namespace tg
