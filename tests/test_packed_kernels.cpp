// BitNet inference kernels (docs/bitnet.md, "Inference: packed ternary weights"): the
// 2-bit packing of levels, the int8 matmul against a naive integer product, and the int8
// product and a model with frozen int8 weights against the training-time quantised
// forward, bit for bit.
#include <catch2/catch.hpp>

#include <cstring>

#include "bf16_support.h"
#include "core/error.h"
#include "core/int8_matmul.h"
#include "growth_fixture.h"
#include "layers/packed_levels.h"
#include "layers/quantized_matmul.h"

using namespace tg;
using namespace tg::testing;

namespace {
constexpr WeightFormat kPackable[] = {WeightFormat::Ternary, WeightFormat::Binary};

// Every pattern of `count` levels in {-1, 0, +1} (3^count of them), the i-th.
std::vector<int8_t> pattern(int64_t count, int64_t index) {
  std::vector<int8_t> levels(static_cast<size_t>(count));
  for (auto& l : levels) {
    l = static_cast<int8_t>(index % 3 - 1);
    index /= 3;
  }
  return levels;
}

std::vector<int8_t> random_int8(Rng& rng, int64_t count, int lo, int hi) {
  std::vector<int8_t> v(static_cast<size_t>(count));
  for (auto& x : v) x = static_cast<int8_t>(lo + static_cast<int>(rng.below(static_cast<uint64_t>(hi - lo + 1))));
  return v;
}
}  // namespace

TEST_CASE("Packed levels: every pattern and odd lengths round trip at 2 bits each", "[packed]") {
  // The documented codes: 0 -> 00, +1 -> 01, -1 -> 10, level i at bits 2 (i % 4).
  const std::vector<int8_t> four = {1, -1, 0, 1};
  REQUIRE(pack_levels(four.data(), 4) == std::vector<uint8_t>{0x49});
  const std::vector<int8_t> five = {-1, 0, 0, 0, 1};
  REQUIRE(pack_levels(five.data(), 5) == std::vector<uint8_t>{0x02, 0x01});
  for (int64_t count = 0; count <= 7; ++count) {  // all 3^count patterns, lengths 0..7
    int64_t patterns = 1;
    for (int64_t i = 0; i < count; ++i) patterns *= 3;
    for (int64_t p = 0; p < patterns; ++p) {
      const std::vector<int8_t> levels = pattern(count, p);
      const std::vector<uint8_t> packed = pack_levels(levels.data(), count);
      REQUIRE(static_cast<int64_t>(packed.size()) == (count + 3) / 4);
      std::vector<int8_t> back(static_cast<size_t>(count), 7);
      unpack_levels(packed.data(), count, back.data(), "test");
      REQUIRE(back == levels);
    }
  }
  Rng rng(3);
  for (int64_t count : {9, 13, 21, 63, 65, 1001}) {  // neither a multiple of 4 nor 5 (but 65's of 5)
    const std::vector<int8_t> levels = random_int8(rng, count, -1, 1);
    const std::vector<uint8_t> packed = pack_levels(levels.data(), count);
    REQUIRE(static_cast<int64_t>(packed.size()) == packed_level_bytes(count));
    std::vector<int8_t> back(static_cast<size_t>(count));
    unpack_levels(packed.data(), count, back.data(), "test");
    REQUIRE(back == levels);
  }
  // Only levels in {-1, 0, +1} pack.
  const std::vector<int8_t> two = {2};
  REQUIRE_THROWS_AS(pack_levels(two.data(), 1), std::logic_error);
}

TEST_CASE("Packed levels: the unused code and non-zero padding are refused, naming the data", "[packed][errors]") {
  std::vector<int8_t> out(8);  // room for the 8 levels of the last case
  const uint8_t unused_code[] = {0x0C, 0x00};  // level 1 coded 11
  REQUIRE_THROWS_WITH(unpack_levels(unused_code, 5, out.data(), "f.tgq: /packed/x/levels"),
                      Catch::Contains("f.tgq: /packed/x/levels: level 1 has the unused code 11"));
  const uint8_t padding[] = {0x00, 0x04};  // 5 levels: bits 2..7 of byte 1 are padding
  REQUIRE_THROWS_WITH(unpack_levels(padding, 5, out.data(), "f.tgq"), Catch::Contains("non-zero padding"));
  const uint8_t full[] = {0x00, 0x40};  // 8 levels fill both bytes: no padding to check
  REQUIRE_NOTHROW(unpack_levels(full, 8, out.data(), "f.tgq"));
}

namespace {
// c (m x n) against the naive int64 product of a (m x k) and op(b).
void require_naive_product(const std::vector<int8_t>& a, const std::vector<int8_t>& b, Trans trans,
                           const std::vector<int32_t>& c, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += int64_t{a[i * k + p]} * (trans == Trans::Yes ? b[j * k + p] : b[p * n + j]);
      REQUIRE(c[i * n + j] == sum);
    }
}
}  // namespace

TEST_CASE("int8 matmul (s8 x s8 -> s32) equals a naive integer product", "[packed][kernel]") {
  Engine engine(2);
  Rng rng(5);
  struct Shape { int64_t m, n, k; };
  // Weights in {-1, 0, +1} (what inference multiplies by) and in [-63, 63], the range
  // exact without VNNI (core/int8_matmul.h).
  for (const Shape s : {Shape{1, 1, 1}, Shape{7, 5, 13}, Shape{3, 17, 300}, Shape{33, 9, 64}, Shape{4, 6, 0}})
    for (Trans trans : {Trans::No, Trans::Yes})
      for (int b_max : {1, 63}) {
        INFO("m " << s.m << " n " << s.n << " k " << s.k << " trans " << (trans == Trans::Yes) << " |b| <= " << b_max);
        const std::vector<int8_t> a = random_int8(rng, s.m * s.k, -127, 127);
        const std::vector<int8_t> b = random_int8(rng, s.k * s.n, -b_max, b_max);
        std::vector<int32_t> c(static_cast<size_t>(s.m * s.n), 12345);
        matmul_s8s8s32(engine, a.data(), b.data(), trans, c.data(), s.m, s.n, s.k);
        require_naive_product(a, b, trans, c, s.m, s.n, s.k);
      }
  // The extremes: every |q| = 127 with the weight's sign (and against it), k = 4096, so
  // every pair and partial sum is as large as a ternary product's can be.
  const int64_t m = 2, n = 3, k = 4096;
  std::vector<int8_t> a(m * k), b(k * n);
  for (int64_t p = 0; p < k; ++p) {
    const int8_t sign = p % 3 == 0 ? -1 : 1;
    a[p] = static_cast<int8_t>(127 * sign);
    a[k + p] = static_cast<int8_t>(-127 * sign);
    for (int64_t j = 0; j < n; ++j) b[p * n + j] = j == 2 ? int8_t{0} : static_cast<int8_t>(j == 0 ? sign : -sign);
  }
  std::vector<int32_t> c(m * n);
  matmul_s8s8s32(engine, a.data(), b.data(), Trans::No, c.data(), m, n, k);
  require_naive_product(a, b, Trans::No, c, m, n, k);
  REQUIRE(c[0] == 127 * k);
  REQUIRE(c[1] == -127 * k);
}

TEST_CASE("The int8 product equals the training forward's quantised product bit for bit", "[packed][kernel]") {
  Engine engine(2);
  Rng rng(8);
  const int64_t m = 9, k = 70, n = 11;
  Tensor x({m, k}), w_yes({n, k}), w_no({k, n});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(rng.normal()) * (1.0f + static_cast<float>(i % 7));
  for (int64_t j = 0; j < k; ++j) x[2 * k + j] = 0.0f;  // an all-zero row gives zeros both ways
  for (int64_t i = 0; i < w_yes.numel(); ++i) w_yes[i] = static_cast<float>(rng.normal());
  for (int64_t i = 0; i < w_no.numel(); ++i) w_no[i] = static_cast<float>(rng.normal());
  std::vector<Precision> precisions = {Precision::FP32};
  if (bf16_runs_here(engine)) precisions.push_back(Precision::BF16);
  for (WeightFormat format : kPackable)
    for (Precision precision : precisions)
      for (Trans trans : {Trans::Yes, Trans::No}) {
        INFO(to_string(format) << " " << to_string(precision) << " trans " << (trans == Trans::Yes));
        const Tensor& w = trans == Trans::Yes ? w_yes : w_no;
        QuantizedWeight q;
        q.update(format, w);
        Int8Weight i8("w", w.dim(0), w.dim(1));
        i8.freeze_from(format, w);
        // Trans::Yes: the row scales index Y's columns; Trans::No: the caller folds them.
        const float* col = trans == Trans::Yes ? q.scales.data() : nullptr;
        Tensor expected({m, n}), got({m, n});
        quantized_product(engine, precision, x.data(), m, k, q.levels, trans, col, expected.data(), n);
        quantized_product_int8(engine, x.data(), m, k, i8, trans, col, got.data(), n);
        REQUIRE(same_bits(expected, got));
        REQUIRE(got[2 * n] == 0.0f);
        bool nonzero = false;  // the product is not trivially zero
        for (int64_t i = 0; i < got.numel(); ++i) nonzero |= got[i] != 0.0f;
        REQUIRE(nonzero);
      }
}

TEST_CASE("A model with frozen int8 weights gives the training forward's logits bit for bit", "[packed][model]") {
  Engine engine(2);
  for (WeightFormat format : kPackable)
    for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
      DYNAMIC_SECTION(to_string(format) << " " << to_string(arch)) {
        Fixture f = make_fixture(engine, arch, PattentionNorm::L2NormGelu, {}, format);
        const Tensor expected = logits_of(engine, *f.model, f);
        const std::vector<Int8Weight*> weights = f.model->int8_weights();
        REQUIRE(weights.size() == static_cast<size_t>(f.config.n_layers * (arch == Architecture::TokenFormer ? 10 : 6)));
        for (Int8Weight* w : weights) w->freeze_from(format, f.model->find_parameter(w->name)->value);
        // Frozen: the float weights are no longer read (zeroed here to prove it).
        for (Int8Weight* w : weights) f.model->find_parameter(w->name)->value.zero();
        REQUIRE(same_bits(expected, logits_of(engine, *f.model, f)));
        REQUIRE_THROWS_AS(f.model->backward(engine), std::logic_error);
        weights.back()->scales[0] *= 2.0f;  // the comparison can fail
        REQUIRE_FALSE(same_bits(expected, logits_of(engine, *f.model, f)));
      }
    }
}
