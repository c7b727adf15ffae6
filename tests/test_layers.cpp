// Gradient checks and naive references for the layers other than attention.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/engine.h"
#include "gradcheck.h"
#include "layers/cross_entropy.h"
#include "layers/embedding.h"
#include "layers/gelu.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/pattention.h"

using namespace tg;
using namespace tg::testing;

namespace {

// Pattention forward in double, straight from the formulas.
std::vector<double> naive_pattention(const Tensor& x, const Tensor& keys, const Tensor& values, PattentionNorm norm,
                                     double tau, double eps) {
  const int64_t T = x.rows(), d_in = x.cols(), n = keys.rows(), d_out = values.cols();
  auto gelu_d = [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); };
  std::vector<double> y(T * d_out, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> a(n), s(n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < d_in; ++k) a[j] += static_cast<double>(x[t * d_in + k]) * keys[j * d_in + k];
    if (norm == PattentionNorm::L2NormGelu) {
      double ss = 0;
      for (double v : a) ss += v * v;
      for (int64_t j = 0; j < n; ++j) s[j] = gelu_d(a[j] / std::sqrt(ss + eps) * tau);
    } else if (norm == PattentionNorm::GeluL2Norm) {
      double ss = 0;
      for (int64_t j = 0; j < n; ++j) { s[j] = gelu_d(a[j]); ss += s[j] * s[j]; }
      for (int64_t j = 0; j < n; ++j) s[j] = s[j] / std::sqrt(ss + eps) * tau;
    } else {
      double sum = 0;  // no max subtraction: the inputs here are small
      for (int64_t j = 0; j < n; ++j) { s[j] = std::exp(a[j]); sum += s[j]; }
      for (int64_t j = 0; j < n; ++j) s[j] = s[j] / sum * tau * tau;
    }
    for (int64_t j = 0; j < n; ++j)
      for (int64_t o = 0; o < d_out; ++o) y[t * d_out + o] += s[j] * values[j * d_out + o];
  }
  return y;
}

const PattentionNorm kAllNorms[] = {PattentionNorm::L2NormGelu, PattentionNorm::GeluL2Norm, PattentionNorm::Softmax};

}  // namespace

TEST_CASE("Pattention forward matches a naive double-precision reference", "[pattention]") {
  Engine engine(2);
  for (PattentionNorm norm : kAllNorms) {
    DYNAMIC_SECTION("normalization " << to_string(norm)) {
      Rng rng(11);
      Pattention layer("p", 6, 5, 9, norm);
      layer.init(rng, 0.5f, 0.5f);
      Tensor x({7, 6}), y;
      fill_normal(x, rng);
      layer.forward(engine, x, y);
      REQUIRE(y.rows() == 7);
      REQUIRE(y.cols() == 5);
      REQUIRE(layer.tau() == Approx(3.0f));  // sqrt(9) at creation
      const auto ref = naive_pattention(x, layer.keys().value, layer.values().value, norm, layer.tau(), 1e-6);
      for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(y[i] == Approx(ref[i]).margin(1e-5).epsilon(1e-5));
    }
  }
}

TEST_CASE("Pattention softmax is stable for large scores (max subtracted)", "[pattention]") {
  Engine engine(1);
  Pattention layer("p", 2, 2, 3, PattentionNorm::Softmax);
  Tensor& k = layer.keys().value;
  k.zero();
  k[0] = 1000.0f;  // token 0 gets score 1000 * x0
  Tensor& v = layer.values().value;
  for (int64_t i = 0; i < v.numel(); ++i) v[i] = static_cast<float>(i);
  Tensor x({1, 2}), y;
  x[0] = 1.0f;
  layer.forward(engine, x, y);
  // All mass on token 0: y = tau^2 * V[0] = 3 * (0, 1).
  REQUIRE(std::isfinite(y[0]));
  REQUIRE(y[0] == Approx(0.0f).margin(1e-6));
  REQUIRE(y[1] == Approx(3.0f));
}

TEST_CASE("Pattention gradients match finite differences", "[pattention][gradcheck]") {
  Engine engine(2);
  for (PattentionNorm norm : kAllNorms) {
    DYNAMIC_SECTION("normalization " << to_string(norm)) {
      Rng rng(5);
      Pattention layer("p", 5, 4, 7, norm);
      layer.init(rng, 0.4f, 0.4f);
      Tensor x({6, 5}), y, r({6, 4}), dx;
      fill_normal(x, rng);
      fill_normal(r, rng);
      auto loss = [&] { Tensor out; layer.forward(engine, x, out); return dot(out, r); };
      layer.forward(engine, x, y);
      layer.backward(engine, r, dx, false);
      check_gradient("dX", x.data(), dx.data(), x.numel(), loss);
      check_gradient("dK", layer.keys().value.data(), layer.keys().grad.data(), layer.keys().value.numel(), loss);
      check_gradient("dV", layer.values().value.data(), layer.values().grad.data(), layer.values().value.numel(), loss);

      // accumulate_dx adds to what is there.
      Tensor dx2 = dx;
      layer.forward(engine, x, y);
      layer.backward(engine, r, dx2, true);
      for (int64_t i = 0; i < dx.numel(); ++i) REQUIRE(dx2[i] == Approx(2.0f * dx[i]).margin(1e-6));
    }
  }
}

TEST_CASE("LayerNorm normalises rows and its gradients match finite differences", "[layernorm][gradcheck]") {
  for (bool affine : {false, true}) {
    DYNAMIC_SECTION("affine " << affine) {
      Rng rng(3);
      LayerNorm norm("ln", 8, affine);
      if (affine) {
        fill_normal(norm.weight()->value, rng);
        fill_normal(norm.bias()->value, rng);
      }
      Tensor x({5, 8}), y, r({5, 8}), dx;
      fill_normal(x, rng, 2.0f);
      norm.forward(x, y);
      if (!affine) {
        for (int64_t row = 0; row < 5; ++row) {
          double mean = 0, var = 0;
          for (int64_t j = 0; j < 8; ++j) mean += y[row * 8 + j];
          mean /= 8;
          for (int64_t j = 0; j < 8; ++j) var += (y[row * 8 + j] - mean) * (y[row * 8 + j] - mean);
          REQUIRE(mean == Approx(0.0).margin(1e-6));
          REQUIRE(var / 8 == Approx(1.0).epsilon(1e-3));  // eps 1e-5 inside the root
        }
      }
      fill_normal(r, rng);
      auto loss = [&] { Tensor out; norm.forward(x, out); return dot(out, r); };
      norm.forward(x, y);
      norm.backward(r, dx, false);
      check_gradient("dX", x.data(), dx.data(), x.numel(), loss);
      if (affine) {
        check_gradient("dW", norm.weight()->value.data(), norm.weight()->grad.data(), 8, loss);
        check_gradient("dB", norm.bias()->value.data(), norm.bias()->grad.data(), 8, loss);
      }
    }
  }
}

TEST_CASE("Linear and MLP gradients match finite differences", "[linear][gradcheck]") {
  Engine engine(2);
  Rng rng(8);
  Tensor x({4, 6}), r({4, 6}), y, dx;
  fill_normal(x, rng);
  fill_normal(r, rng);
  SECTION("Linear") {
    Linear lin("lin", 6, 6);
    lin.init(rng, 0.3f);
    auto loss = [&] { Tensor out; lin.forward(engine, x, out); return dot(out, r); };
    lin.forward(engine, x, y);
    lin.backward(engine, r, dx, false);
    check_gradient("dX", x.data(), dx.data(), x.numel(), loss);
    check_gradient("dW", lin.weight().value.data(), lin.weight().grad.data(), lin.weight().value.numel(), loss);
  }
  SECTION("MLP") {
    Mlp mlp("mlp", 6, 10);
    mlp.init(rng, 0.4f, 0.4f);
    std::vector<Parameter*> params;
    mlp.collect_parameters(params);
    REQUIRE(params.size() == 2);
    REQUIRE(params[0]->name == "mlp/up/weight");
    auto loss = [&] { Tensor out; mlp.forward(engine, x, out); return dot(out, r); };
    mlp.forward(engine, x, y);
    mlp.backward(engine, r, dx, false);
    check_gradient("dX", x.data(), dx.data(), x.numel(), loss);
    for (Parameter* p : params) check_gradient(p->name, p->value.data(), p->grad.data(), p->value.numel(), loss);
  }
}

TEST_CASE("GELU derivative matches finite differences", "[gelu]") {
  for (float x = -4.0f; x <= 4.0f; x += 0.37f) {
    const double h = 1e-3;
    const double numeric = (gelu(x + h) - gelu(x - h)) / (2 * h);
    REQUIRE(gelu_grad(x) == Approx(numeric).margin(2e-3));
  }
  REQUIRE(gelu(0.0f) == 0.0f);
  REQUIRE(gelu_grad(0.0f) == Approx(0.5f));
}

TEST_CASE("Cross-entropy loss and gradient match the definition", "[loss][gradcheck]") {
  Rng rng(4);
  Tensor logits({3, 5});
  fill_normal(logits, rng, 2.0f);
  const std::vector<int32_t> targets = {1, 4, 0};
  // Reference loss in double.
  double ref = 0;
  for (int64_t r = 0; r < 3; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < 5; ++j) sum += std::exp(static_cast<double>(logits[r * 5 + j]));
    ref += std::log(sum) - logits[r * 5 + targets[r]];
  }
  ref /= 3;
  Tensor work = logits;
  REQUIRE(cross_entropy(work, targets, false) == Approx(ref).epsilon(1e-6));
  Tensor grad = logits;
  cross_entropy(grad, targets, true);
  auto loss = [&] { Tensor w = logits; return cross_entropy(w, targets, false); };
  check_gradient("dlogits", logits.data(), grad.data(), logits.numel(), loss, 1e-2, 1e-4, 1e-2);
}

TEST_CASE("Embedding gathers rows and scatters gradients, repeated tokens summed", "[embedding]") {
  Rng rng(2);
  Embedding emb(5, 3);
  emb.init(rng, 1.0f);
  const std::vector<int32_t> tokens = {4, 1, 4};
  Tensor x;
  emb.forward(tokens, x);
  for (int64_t j = 0; j < 3; ++j) {
    REQUIRE(x[0 * 3 + j] == emb.table().value[4 * 3 + j]);
    REQUIRE(x[1 * 3 + j] == emb.table().value[1 * 3 + j]);
  }
  Tensor dx({3, 3});
  for (int64_t i = 0; i < 9; ++i) dx[i] = static_cast<float>(i);
  emb.backward(tokens, dx);
  for (int64_t j = 0; j < 3; ++j) {
    REQUIRE(emb.table().grad[4 * 3 + j] == dx[0 * 3 + j] + dx[2 * 3 + j]);
    REQUIRE(emb.table().grad[1 * 3 + j] == dx[1 * 3 + j]);
    REQUIRE(emb.table().grad[0 * 3 + j] == 0.0f);
  }
}

TEST_CASE("Embedding and cross-entropy refuse ids outside the vocabulary instead of reading past it",
          "[embedding][loss]") {
  Embedding emb(5, 3);
  Tensor x;
  REQUIRE_THROWS_AS(emb.forward({0, 5}, x), std::out_of_range);
  REQUIRE_THROWS_AS(emb.forward({-1}, x), std::out_of_range);
  Tensor dx({1, 3});
  REQUIRE_THROWS_AS(emb.backward({7}, dx), std::out_of_range);
  emb.forward({4, 0}, x);  // the last id is in range
  Tensor logits({2, 5});
  REQUIRE_THROWS_AS(cross_entropy(logits, {1, 5}, false), std::out_of_range);
  REQUIRE_THROWS_AS(cross_entropy(logits, {-2, 0}, true), std::out_of_range);
  REQUIRE_THROWS_AS(cross_entropy(logits, {1}, false), std::out_of_range);
  REQUIRE(cross_entropy(logits, {4, 0}, false) == Approx(std::log(5.0)));
}
