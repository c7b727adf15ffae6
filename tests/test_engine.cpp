#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <vector>

#include "core/engine.h"
#include "core/rng.h"
#include "core/tensor.h"

using namespace tg;

namespace {
// Naive C = alpha * op(A) op(B) + beta * C for one problem, in double.
void naive_matmul(const float* a, bool ta, const float* b, bool tb, float* c, int64_t m, int64_t n,
                  int64_t k, float alpha, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a[p * m + i] : a[i * k + p];
        const double bv = tb ? b[j * k + p] : b[p * n + j];
        s += av * bv;
      }
      c[i * n + j] = static_cast<float>(alpha * s + beta * c[i * n + j]);
    }
}
}  // namespace

TEST_CASE("oneDNN matmul matches a naive reference for every transpose, alpha and beta", "[engine]") {
  Engine engine(2);
  Rng rng(1);
  const int64_t batch = 3, m = 7, n = 5, k = 9;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f, 0.5f}) {
        const float alpha = 0.75f;
        std::vector<float> a(batch * m * k), b(batch * k * n), c(batch * m * n), ref;
        for (auto& x : a) x = static_cast<float>(rng.normal());
        for (auto& x : b) x = static_cast<float>(rng.normal());
        for (auto& x : c) x = static_cast<float>(rng.normal());
        ref = c;
        for (int64_t i = 0; i < batch; ++i)
          naive_matmul(a.data() + i * m * k, ta, b.data() + i * k * n, tb, ref.data() + i * m * n, m,
                       n, k, alpha, beta);
        engine.matmul(a.data(), ta ? Trans::Yes : Trans::No, b.data(), tb ? Trans::Yes : Trans::No,
                      c.data(), m, n, k, alpha, beta, batch);
        for (size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == Approx(ref[i]).margin(1e-5));
      }
}

TEST_CASE("matmul primitives are created once per shape and reused", "[engine]") {
  Engine engine(1);
  Tensor a({4, 3}), b({3, 2}), c({4, 2});
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), 4, 2, 3);
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), 4, 2, 3);
  REQUIRE(engine.cached_primitives() == 1);
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), 4, 2, 3, 1.0f, 1.0f);
  REQUIRE(engine.cached_primitives() == 2);
}

TEST_CASE("Rng is reproducible from its seed and from a saved state", "[rng]") {
  Rng a(42), b(42);
  for (int i = 0; i < 10; ++i) REQUIRE(a.next_u64() == b.next_u64());
  const auto saved = a.state();
  const double x = a.normal();
  Rng c(7);
  c.set_state(saved);
  REQUIRE(c.normal() == x);
  // Moments of the normal generator.
  Rng d(3);
  double s = 0, s2 = 0;
  const int count = 100000;
  for (int i = 0; i < count; ++i) { const double v = d.normal(); s += v; s2 += v * v; }
  REQUIRE(std::abs(s / count) < 0.02);
  REQUIRE(std::abs(s2 / count - 1.0) < 0.02);
}
