// BitNet weights (docs/bitnet.md): the quantisers against their definitions, the quantised
// layers against a naive reference, the straight-through backward, growth with quantised
// weights, and training.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "core/engine.h"
#include "gradcheck.h"
#include "growth_fixture.h"
#include "layers/linear.h"
#include "layers/pattention.h"
#include "layers/weight_quantization.h"
#include "train/adamw.h"

using namespace tg;
using namespace tg::testing;

namespace {

const WeightFormat kQuantized[] = {WeightFormat::Binary, WeightFormat::Ternary};
const PattentionNorm kAllNorms[] = {PattentionNorm::L2NormGelu, PattentionNorm::GeluL2Norm, PattentionNorm::Softmax};

// W~ of a weight (rows x cols) in double, from the papers' formulas.
std::vector<double> naive_weight(WeightFormat f, const Tensor& w) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  std::vector<double> out(rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    double mean = 0, mean_abs = 0;
    for (int64_t j = 0; j < cols; ++j) {
      mean += w[i * cols + j] / static_cast<double>(cols);
      mean_abs += std::abs(w[i * cols + j]) / static_cast<double>(cols);
    }
    for (int64_t j = 0; j < cols; ++j) {
      const double v = w[i * cols + j];
      const double q = f == WeightFormat::Binary ? (v - mean > 0 ? 1.0 : -1.0)
                                                 : std::clamp(std::round(v / (mean_abs + 1e-5)), -1.0, 1.0);
      out[i * cols + j] = mean_abs * q;
    }
  }
  return out;
}

// X~ in double: 8-bit absmax per row.
std::vector<double> naive_activations(const std::vector<double>& x, int64_t rows, int64_t cols) {
  std::vector<double> out(x.size());
  for (int64_t i = 0; i < rows; ++i) {
    double m = 0;
    for (int64_t j = 0; j < cols; ++j) m = std::max(m, std::abs(x[i * cols + j]));
    for (int64_t j = 0; j < cols; ++j)
      out[i * cols + j] = m == 0 ? 0 : m / 127 * std::clamp(std::round(x[i * cols + j] * 127 / m), -127.0, 127.0);
  }
  return out;
}

std::vector<double> as_double(const Tensor& t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

// a (m x k) b^T (b: n x k)
std::vector<double> times_transposed(const std::vector<double>& a, const std::vector<double>& b, int64_t m,
                                     int64_t n, int64_t k) {
  std::vector<double> c(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t l = 0; l < k; ++l) c[i * n + j] += a[i * k + l] * b[j * k + l];
  return c;
}

// A quantised l2_norm_gelu Pattention in double:
//   A = X~ K~^T, S = GELU(A / ||A|| tau), U = S diag(s_V), Y = U~ Q_V
std::vector<double> naive_quantized_pattention(WeightFormat f, const Tensor& x, const Tensor& keys,
                                               const Tensor& values, double tau) {
  const int64_t T = x.rows(), d_in = x.cols(), n = keys.rows(), d_out = values.cols();
  const std::vector<double> a = times_transposed(naive_activations(as_double(x), T, d_in), naive_weight(f, keys), T, n, d_in);
  const std::vector<double> v = naive_weight(f, values);
  std::vector<double> s_v(n), q_v(n * d_out);
  for (int64_t i = 0; i < n; ++i) {
    double mean_abs = 0;
    for (int64_t o = 0; o < d_out; ++o) mean_abs += std::abs(values[i * d_out + o]) / static_cast<double>(d_out);
    s_v[i] = mean_abs;
    for (int64_t o = 0; o < d_out; ++o) q_v[i * d_out + o] = mean_abs == 0 ? 0 : v[i * d_out + o] / mean_abs;
  }
  std::vector<double> u(T * n);
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < n; ++j) ss += a[t * n + j] * a[t * n + j];
    for (int64_t j = 0; j < n; ++j) {
      const double z = a[t * n + j] / std::sqrt(ss + 1e-6) * tau;
      u[t * n + j] = 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0))) * s_v[j];
    }
  }
  const std::vector<double> u_q = naive_activations(u, T, n);
  std::vector<double> y(T * d_out, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t o = 0; o < d_out; ++o) y[t * d_out + o] += u_q[t * n + j] * q_v[j * d_out + o];
  return y;
}

// Weights that the quantiser maps to themselves: each row +-c_i with both signs present.
void fill_on_grid(Tensor& w, Rng& rng) {
  const int64_t rows = w.dim(0), cols = w.dim(1);
  for (int64_t i = 0; i < rows; ++i) {
    const float c = 0.2f + 0.5f * static_cast<float>(rng.below(8)) / 8.0f;
    for (int64_t j = 0; j < cols; ++j) w[i * cols + j] = (j == 0 || (j > 1 && rng.below(2))) ? c : -c;
  }
}

// Activations on the 8-bit grid: row i is (m_i / 127) k_ij with integers k, one of them +-127.
void fill_activations_on_grid(Tensor& x, Rng& rng) {
  const int64_t rows = x.rows(), cols = x.cols();
  for (int64_t i = 0; i < rows; ++i) {
    const float m = 0.5f + static_cast<float>(rng.below(4));  // 0.5 .. 3.5: m / 127 k is exact enough
    for (int64_t j = 0; j < cols; ++j) {
      const int k = j == 0 ? 127 : static_cast<int>(rng.below(255)) - 127;
      x[i * cols + j] = m * static_cast<float>(k) / 127.0f;
    }
  }
}

}  // namespace

TEST_CASE("BitNet quantisers match their definitions on hand-computed rows", "[bitnet]") {
  // ternary: g = mean |w| = 0.9375; w / g = 0.53, -1.28, 0.053, 2.13 -> 1, -1, 0, 1
  const float w[4] = {0.5f, -1.2f, 0.05f, 2.0f};
  float q[4], s;
  quantize_weight_rows(WeightFormat::Ternary, w, 1, 4, q, &s);
  REQUIRE(s == Approx(0.9375f));
  REQUIRE(std::vector<float>(q, q + 4) == std::vector<float>{1, -1, 0, 1});
  // binary: mean 1 -> w - 1 = 0, 1, 2, -3 -> -1 (sign(0) = -1), 1, 1, -1; scale mean |w| = 2
  const float b[4] = {1.0f, 2.0f, 3.0f, -2.0f};
  quantize_weight_rows(WeightFormat::Binary, b, 1, 4, q, &s);
  REQUIRE(s == 2.0f);
  REQUIRE(std::vector<float>(q, q + 4) == std::vector<float>{-1, 1, 1, -1});
  // activations: absmax 1 -> 63.5 -> 64 (half away from zero), -127, 31.75 -> 32; scale 1/127
  const float x[3] = {0.5f, -1.0f, 0.25f};
  quantize_activation_rows(x, 1, 3, q, &s);
  REQUIRE(std::vector<float>(q, q + 3) == std::vector<float>{64, -127, 32});
  REQUIRE(s == 1.0f / 127.0f);
  // An all-zero row: zeros and scale 0 (what zero new keys must become); NaN stays NaN.
  const float zeros[3] = {0, 0, 0}, nan_row[3] = {1.0f, std::nanf(""), 2.0f};
  for (WeightFormat f : kQuantized) {
    quantize_weight_rows(f, zeros, 1, 3, q, &s);
    REQUIRE(s == 0.0f);
    REQUIRE(s * q[0] == 0.0f);
  }
  quantize_activation_rows(zeros, 1, 3, q, &s);
  REQUIRE((q[0] == 0.0f && s == 0.0f));
  quantize_activation_rows(nan_row, 1, 3, q, &s);
  REQUIRE(std::isnan(s));
  REQUIRE_THROWS_WITH(parse_weight_format("int4"), Catch::Contains("float, binary or ternary"));
}

TEST_CASE("Per-row scales: appending rows leaves the old rows' levels and scales unchanged", "[bitnet][growth]") {
  Rng rng(3);
  Tensor small({5, 7}), big({9, 7});
  fill_normal(small, rng);
  fill_normal(big, rng);
  for (int64_t i = 0; i < small.numel(); ++i) big[i] = small[i];
  for (WeightFormat f : kQuantized) {
    QuantizedWeight a, b;
    a.update(f, small);
    b.update(f, big);
    for (int64_t i = 0; i < small.numel(); ++i) REQUIRE(a.levels[i] == b.levels[i]);
    for (int64_t i = 0; i < 5; ++i) REQUIRE(a.scales[i] == b.scales[i]);
  }
}

TEST_CASE("A quantised Pattention's forward matches a naive reference of the BitNet formulas", "[bitnet][pattention]") {
  Engine engine(2);
  for (WeightFormat f : kQuantized)
    for (Precision p : {Precision::FP32, Precision::BF16}) {
      if (p == Precision::BF16 && !engine.supports_bf16()) continue;
      DYNAMIC_SECTION(to_string(f) << " " << to_string(p)) {
        Rng rng(11);
        Pattention layer("p", 12, 10, 9, PattentionNorm::L2NormGelu, 1e-6f, p, f);
        layer.init(rng, 0.5f, 0.5f);
        Tensor x({7, 12}), y;
        fill_normal(x, rng);
        layer.forward(engine, x, y);
        const auto ref = naive_quantized_pattention(f, x, layer.keys().value, layer.values().value, layer.tau());
        // Integer products are exact in both precisions: what is left is float32 rounding.
        for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(y[i] == Approx(ref[i]).margin(1e-5).epsilon(1e-5));
        // Not the float layer: quantisation changes the output.
        Pattention plain("p", 12, 10, 9, PattentionNorm::L2NormGelu);
        plain.keys().value = layer.keys().value;
        plain.values().value = layer.values().value;
        Tensor y_float;
        plain.forward(engine, x, y_float);
        REQUIRE(relative_l2(y, y_float) > 1e-2);
      }
    }
}

TEST_CASE("A quantised Linear's forward is X~ W~^T", "[bitnet][linear]") {
  Engine engine(2);
  for (WeightFormat f : kQuantized) {
    Rng rng(4);
    Linear layer("l", 9, 6, Precision::FP32, Axis::Model, Axis::Model, f);
    layer.init(rng, 0.3f);
    Tensor x({5, 9}), y;
    fill_normal(x, rng);
    layer.forward(engine, x, y);
    const auto ref = times_transposed(naive_activations(as_double(x), 5, 9), naive_weight(f, layer.weight().value), 5, 6, 9);
    for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(y[i] == Approx(ref[i]).margin(1e-5).epsilon(1e-5));
  }
}

TEST_CASE("On the quantisation grid the straight-through backward equals the float gradient", "[bitnet][gradcheck]") {
  // Where weights and inputs already sit on the grid, X~ = X and W~ = W, so the
  // straight-through backward must give the float layer's gradients (finite-difference
  // checked in test_layers.cpp); off the grid it is, by definition, that of W~ and X.
  Engine engine(2);
  for (WeightFormat f : kQuantized)
    for (PattentionNorm norm : kAllNorms) {
      DYNAMIC_SECTION(to_string(f) << " " << to_string(norm)) {
        Rng rng(5);
        Pattention q("p", 8, 6, 7, norm, 1e-6f, Precision::FP32, f), plain("p", 8, 6, 7, norm);
        fill_on_grid(q.keys().value, rng);
        fill_on_grid(q.values().value, rng);
        plain.keys().value = q.keys().value;
        plain.values().value = q.values().value;
        Tensor x({6, 8}), r({6, 6}), y, y_plain, dx, dx_plain;
        fill_activations_on_grid(x, rng);
        fill_normal(r, rng);
        q.forward(engine, x, y);
        plain.forward(engine, x, y_plain);
        q.backward(engine, r, dx, false);
        plain.backward(engine, r, dx_plain, false);
        REQUIRE(relative_l2(dx, dx_plain) < 1e-5);
        REQUIRE(relative_l2(q.keys().grad, plain.keys().grad) < 1e-5);
        REQUIRE(relative_l2(q.values().grad, plain.values().grad) < 1e-5);
        // The forward differs only through S's 8-bit quantisation: within 1/127 of |S|.
        REQUIRE(relative_l2(y, y_plain) < 1e-2);
      }
    }
  for (WeightFormat f : kQuantized) {
    Rng rng(6);
    Linear q("l", 8, 5, Precision::FP32, Axis::Model, Axis::Model, f), plain("l", 8, 5);
    fill_on_grid(q.weight().value, rng);
    plain.weight().value = q.weight().value;
    Tensor x({4, 8}), r({4, 5}), y, y_plain, dx, dx_plain;
    fill_activations_on_grid(x, rng);
    fill_normal(r, rng);
    q.forward(engine, x, y);
    plain.forward(engine, x, y_plain);
    REQUIRE(relative_l2(y, y_plain) < 1e-6);  // everything on the grid: the same product
    q.backward(engine, r, dx, false);
    plain.backward(engine, r, dx_plain, false);
    REQUIRE(relative_l2(dx, dx_plain) < 1e-6);
    REQUIRE(relative_l2(q.weight().grad, plain.weight().grad) < 1e-6);
  }
}

TEST_CASE("Quantised models grow exactly: zero-key tokens, identity blocks, width x2", "[bitnet][growth]") {
  Engine engine(2);
  for (WeightFormat f : kQuantized)
    for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
      DYNAMIC_SECTION(to_string(f) << " " << to_string(arch)) {
        Fixture fx = make_fixture(engine, arch, PattentionNorm::L2NormGelu, {}, f);
        const double before = loss_of(engine, *fx.model, fx);
        std::vector<std::pair<std::string, GrowthTarget>> targets = {
            {"depth", deeper(fx.config, 4)},
            {"width", {fx.config.qkv_tokens, fx.config.proj_tokens, fx.config.ffn_tokens, 0, 16}}};
        if (arch == Architecture::TokenFormer) targets.push_back({"tokens", {12, 10, 20}});
        for (const auto& [what, target] : targets) {
          INFO(what);
          GrowthOptions o = exact_token_options();
          o.value_init = ValueInit::Normal;  // new values non-zero: only the zero keys keep it exact
          o.width_noise = 0.0;
          GrownModel g = grow_model(*fx.model, fx.optimizer.get(), AdamWConfig{}, fx.state, target, o);
          REQUIRE(g.model->config().weights == f);
          const double after = loss_of(engine, *g.model, fx);
          REQUIRE(std::abs(after - before) / before < 1e-6);
        }
        // Width growth's symmetry noise sums to zero over the copies in float, but each copy
        // is quantised on its own: with quantised weights it is no longer exact.
        GrowthOptions noisy = exact_token_options();
        GrownModel g = grow_model(*fx.model, fx.optimizer.get(), AdamWConfig{}, fx.state, targets[1].second, noisy);
        REQUIRE(noisy.width_noise > 0);
        REQUIRE(std::abs(loss_of(engine, *g.model, fx) - before) / before > 1e-4);
      }
    }
}

TEST_CASE("A ternary and a binary model train: the straight-through estimator lowers the loss", "[bitnet][train]") {
  Engine engine(2);
  for (WeightFormat f : kQuantized)
    for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer}) {
      DYNAMIC_SECTION(to_string(f) << " " << to_string(arch)) {
        ModelConfig c = small_model(arch, PattentionNorm::L2NormGelu, f);
        c.init_std = 0.02;
        LanguageModel model(c);
        Rng rng(9);
        model.init(rng);
        AdamW adam(AdamWConfig{}, model.parameters());
        std::vector<int32_t> inputs, targets;
        for (int64_t i = 0; i < 12; ++i) {
          inputs.push_back(static_cast<int32_t>(i % 13));
          targets.push_back(static_cast<int32_t>((i * 5 + 3) % 13));
        }
        // 200 steps to memorise 12 tokens. After 60 steps, as this test first had it, binary
        // TokenFormer stood at 0.32-0.72 of its first loss over seeds 0-11 (binary signs flip
        // on rounding-level differences, so a compiler change moved it across 0.5); after 200
        // every format, architecture and seed measured was below 0.1 (2026-12-07).
        double first = 0, last = 0;
        for (int step = 0; step < 200; ++step) {
          model.zero_grad();
          last = model.forward(engine, inputs, targets, 2, 6, true);
          if (step == 0) first = last;
          model.backward(engine);
          adam.step(1e-2);
        }
        REQUIRE(std::isfinite(last));
        REQUIRE(last < 0.2 * first);
      }
    }
}
