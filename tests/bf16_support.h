#pragma once
// bf16 tests need oneDNN's bf16 kernels, which oneDNN 2.6 has on AVX-512 CPUs only
// (avx512_core or newer). On a CPU without them a bf16 test checks the clear error
// instead of the arithmetic, and says that the arithmetic went untested here.
#include <catch2/catch.hpp>

#include <vector>

#include "core/bf16.h"
#include "core/engine.h"

namespace tg::testing {

inline bool bf16_runs_here(Engine& engine) {
  if (engine.supports_bf16()) return true;
  std::vector<bf16> a(1), b(1);
  float c = 0;
  REQUIRE_THROWS_WITH(engine.matmul(MatmulInput{nullptr, a.data()}, Trans::No, MatmulInput{nullptr, b.data()}, Trans::No,
                                    &c, 1, 1, 1),
                      Catch::Contains("no bf16 matmul on this CPU"));
  WARN("this CPU has no bf16 kernels in oneDNN (they need AVX-512): bf16 arithmetic not tested here");
  return false;
}

}  // namespace tg::testing
