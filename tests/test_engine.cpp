#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "core/bf16.h"
#include "core/engine.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "bf16_support.h"

using namespace tg;
using namespace tg::testing;

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

TEST_CASE("Strided matmul on blocks of larger matrices matches the naive reference and leaves the rest alone",
          "[engine]") {
  // Each of `batch` problems reads a block of a (rows x 13) A, a (rows x 11) B, and writes
  // a block of a 10 x 12 C: the views attention uses for its causal blocks.
  Engine engine(2);
  Rng rng(2);
  const int64_t batch = 2, m = 4, n = 5, k = 6, lda = 13, ldb = 11, ldc = 12;
  const int64_t stride_a = 8 * lda, stride_b = 8 * ldb, stride_c = 10 * ldc;
  const int64_t a_off = 1 * lda + 2, b_off = 2 * ldb + 3, c_off = 3 * ldc + 4;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      std::vector<float> a(batch * stride_a), b(batch * stride_b), c(batch * stride_c), ref;
      std::vector<bool> in_block(c.size(), false);
      for (auto& x : a) x = static_cast<float>(rng.normal());
      for (auto& x : b) x = static_cast<float>(rng.normal());
      for (auto& x : c) x = static_cast<float>(rng.normal());
      ref = c;
      // The reference gathers each block densely (stored m x k or k x m, and so on).
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
      for (int64_t g = 0; g < batch; ++g) {
        std::vector<float> da(a_rows * a_cols), db(b_rows * b_cols), dc(m * n);
        for (int64_t i = 0; i < a_rows; ++i)
          for (int64_t j = 0; j < a_cols; ++j) da[i * a_cols + j] = a[g * stride_a + a_off + i * lda + j];
        for (int64_t i = 0; i < b_rows; ++i)
          for (int64_t j = 0; j < b_cols; ++j) db[i * b_cols + j] = b[g * stride_b + b_off + i * ldb + j];
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) dc[i * n + j] = ref[g * stride_c + c_off + i * ldc + j];
        naive_matmul(da.data(), ta, db.data(), tb, dc.data(), m, n, k, 0.5f, 1.0f);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            ref[g * stride_c + c_off + i * ldc + j] = dc[i * n + j];
            in_block[g * stride_c + c_off + i * ldc + j] = true;
          }
      }
      engine.matmul(MatmulOperand{MatmulInput{a.data()}.at(a_off), ta ? Trans::Yes : Trans::No, lda, stride_a},
                    MatmulOperand{MatmulInput{b.data()}.at(b_off), tb ? Trans::Yes : Trans::No, ldb, stride_b},
                    MatmulOutput{c.data() + c_off, ldc, stride_c}, m, n, k, 0.5f, 1.0f, batch);
      INFO("trans_a " << ta << " trans_b " << tb);
      for (size_t i = 0; i < c.size(); ++i) {
        if (in_block[i]) REQUIRE(c[i] == Approx(ref[i]).margin(1e-5));
        else REQUIRE(c[i] == ref[i]);  // outside the blocks C is untouched
      }
    }
}

TEST_CASE("matmul_weight packs the current weights on every call, in fp32 and bf16, for every transpose and beta",
          "[engine][bf16]") {
  // W is repacked by each call (the optimizer changes it between steps), so a changed W
  // must show in the very next product. bf16: A and W rounded to bf16 (W by the packing
  // reorder, to nearest even), products exact in float32, only the float32 sums round.
  Engine engine(2);
  Rng rng(3);
  // n, k not multiples of the packed blocks (16, 64); the second, smaller shape reuses the
  // engine's packing buffer that the first one grew.
  const std::vector<bool> inputs_in_bf16 = bf16_runs_here(engine) ? std::vector<bool>{false, true} : std::vector<bool>{false};
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{9, 70, 33}, {3, 5, 4}})
  for (bool bf16_inputs : inputs_in_bf16)
    for (bool ta : {false, true})
      for (bool tw : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          std::vector<float> a(m * k), w(k * n), c(m * n);
          for (auto& x : a) x = static_cast<float>(rng.normal());
          for (auto& x : c) x = static_cast<float>(rng.normal());
          Bf16Buffer a16;
          a16.assign(a.data(), static_cast<int64_t>(a.size()));
          const MatmulInput a_in = bf16_inputs ? MatmulInput{nullptr, a16.data()} : MatmulInput{a.data(), nullptr};
          auto rounded = [&](float x) { return bf16_inputs ? bf16_to_float(float_to_bf16(x)) : x; };
          for (int call = 0; call < 2; ++call) {
            for (auto& x : w) x = static_cast<float>(rng.normal());  // new weights each call
            std::vector<float> ar(a.size()), wr(w.size()), ref = c;
            for (size_t i = 0; i < a.size(); ++i) ar[i] = rounded(a[i]);
            for (size_t i = 0; i < w.size(); ++i) wr[i] = rounded(w[i]);
            naive_matmul(ar.data(), ta, wr.data(), tw, ref.data(), m, n, k, 0.75f, beta);
            engine.matmul_weight(a_in, ta ? Trans::Yes : Trans::No, w.data(), tw ? Trans::Yes : Trans::No, c.data(),
                                 m, n, k, 0.75f, beta);
            INFO((bf16_inputs ? "bf16" : "fp32") << " trans_a " << ta << " trans_w " << tw << " beta " << beta
                                                  << " call " << call);
            for (size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == Approx(ref[i]).margin(1e-5));
          }
        }
}

TEST_CASE("A matmul over an empty inner dimension (k = 0) scales C by beta and touches nothing else", "[engine]") {
  Engine engine(1);
  const int64_t m = 2, n = 3, ldc = 5, stride_c = 3 * ldc, batch = 2;
  for (float beta : {0.0f, 0.5f}) {
    std::vector<float> c(batch * stride_c), a(1), w(1);
    for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<float>(i) + 1.0f;
    const std::vector<float> before = c;
    engine.matmul(MatmulOperand{MatmulInput{a.data()}, Trans::No, 0, 0}, MatmulOperand{MatmulInput{w.data()}, Trans::No, n, 0},
                  MatmulOutput{c.data() + 1, ldc, stride_c}, m, n, 0, 1.0f, beta, batch);
    for (int64_t i = 0; i < static_cast<int64_t>(c.size()); ++i) {
      const int64_t g = i / stride_c, r = i % stride_c;
      const bool in_block = g < batch && r >= 1 && (r - 1) / ldc < m && (r - 1) % ldc < n;
      REQUIRE(c[i] == (in_block ? beta * before[i] : before[i]));
    }
    std::vector<float> dense(m * n, 7.0f);
    engine.matmul_weight(MatmulInput{a.data()}, Trans::No, w.data(), Trans::No, dense.data(), m, n, 0, 1.0f, beta);
    for (float x : dense) REQUIRE(x == beta * 7.0f);
  }
}

TEST_CASE("The flop counter adds 2 m n k per problem of every matmul while set, and nothing after", "[engine][flops]") {
  Engine engine(1);
  const int64_t m = 3, n = 5, k = 4, batch = 2;
  std::vector<float> a(batch * m * k, 1.0f), b(batch * k * n, 1.0f), c(batch * m * n, 0.0f);
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), m, n, k);  // no counter: nothing to count into
  MatmulFlopCounter counter;
  engine.set_flop_counter(&counter);
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), m, n, k, 1.0f, 0.0f, batch);
  REQUIRE(counter.flops == 2 * m * n * k * batch);
  // A strided view: 2 x 3 of the 3 x 5 output, inner dimension 2.
  engine.matmul(MatmulOperand{MatmulInput{a.data()}, Trans::No, k, m * k},
                MatmulOperand{MatmulInput{b.data()}, Trans::No, n, k * n}, MatmulOutput{c.data(), n, m * n}, 2, 3, 2,
                1.0f, 0.0f, batch);
  REQUIRE(counter.flops == 2 * m * n * k * batch + 2 * 2 * 3 * 2 * batch);
  counter.flops = 0;
  engine.matmul_weight(MatmulInput{a.data()}, Trans::No, b.data(), Trans::No, c.data(), m, n, k);
  engine.matmul_weight(MatmulInput{a.data()}, Trans::No, b.data(), Trans::No, c.data(), m, n, 0);  // k = 0: no product
  REQUIRE(counter.flops == 2 * m * n * k);
  engine.set_flop_counter(nullptr);
  engine.matmul(a.data(), Trans::No, b.data(), Trans::No, c.data(), m, n, k);
  REQUIRE(counter.flops == 2 * m * n * k);
}

TEST_CASE("PartTimer sums time per name in the order first timed, a null timer records nothing", "[engine][timer]") {
  PartTimer timer;
  timer.add("b", 2.0);
  timer.add(std::string("a"), 1.0);  // names compare by content, not by address
  timer.add("b", 0.5);
  REQUIRE(timer.parts().size() == 2);
  REQUIRE(timer.parts()[0].first == "b");
  REQUIRE(timer.seconds("b") == 2.5);
  REQUIRE(timer.seconds("a") == 1.0);
  REQUIRE(timer.seconds("never") == 0.0);
  { PartScope scope(&timer, "c"); }
  REQUIRE(timer.parts().size() == 3);
  REQUIRE(timer.seconds("c") >= 0.0);
  timer.reset();
  REQUIRE(timer.parts().size() == 3);
  for (const auto& part : timer.parts()) REQUIRE(part.second == 0.0);
  { PartScope scope(nullptr, "c"); }  // no timer: nothing to add to, no crash
}

TEST_CASE("A memory-tracking PartTimer charges a part the resident memory it first touched and kept", "[engine][timer]") {
  constexpr int64_t kFloats = int64_t{16} << 20;  // 64 MiB: above malloc's mmap threshold, so fresh pages
  constexpr double kBytes = 4.0 * kFloats;
  PartTimer timer(/*track_memory=*/true);
  REQUIRE(timer.tracks_memory());
  Tensor kept;
  {
    PartScope scope(&timer, "allocates");
    kept = Tensor({kFloats});  // zeroed: every page touched
  }
  { PartScope scope(&timer, "reads"); REQUIRE(kept[kFloats - 1] == 0.0f); }
  // At least the buffer; at most an eighth more (AddressSanitizer's shadow of it).
  REQUIRE(timer.resident_growth("allocates") >= kBytes);
  REQUIRE(timer.resident_growth("allocates") <= 1.125 * kBytes + (1 << 20));
  REQUIRE(std::abs(timer.resident_growth("reads")) < (1 << 20));
  REQUIRE(timer.resident_growth("never") == 0);
  timer.reset();
  REQUIRE(timer.resident_growth("allocates") == 0);

  PartTimer untracked;  // a timing-only timer reads no memory
  { PartScope scope(&untracked, "allocates"); Tensor more({kFloats}); REQUIRE(more[0] == 0.0f); }
  REQUIRE(untracked.resident_growth("allocates") == 0);
}

TEST_CASE("Workspace keeps one buffer struct of each type, made on first use", "[engine]") {
  struct A { Tensor x; };
  struct B { Tensor x; };
  Engine engine(1);
  A& a = engine.workspace().get<A>();
  a.x.resize({3, 4});
  REQUIRE(&engine.workspace().get<A>() == &a);  // the same buffers on every call
  REQUIRE(engine.workspace().get<A>().x.numel() == 12);
  B& b = engine.workspace().get<B>();
  REQUIRE(static_cast<void*>(&b) != static_cast<void*>(&a));
  REQUIRE(b.x.numel() == 0);
  Engine other(1);
  REQUIRE(&other.workspace().get<A>() != &a);  // per engine, not global
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
