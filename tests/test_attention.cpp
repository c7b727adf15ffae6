// Causal self-attention with rotary: naive reference, causality, rotary
// properties, finite-difference gradients, buffer reuse.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "gradcheck.h"
#include "layers/attention.h"
#include "layers/backward_scratch.h"
#include "bf16_support.h"

using namespace tg;
using namespace tg::testing;

namespace {

// Attention in double straight from the formulas: rotate_half rotary on the first
// `rot` dims of each head, causal softmax(q'k'^T / sqrt(hd)), weighted sum of v.
std::vector<double> naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t B, int64_t T,
                                    int64_t H, int64_t rot, double base = 10000.0) {
  const int64_t d = q.cols(), hd = d / H, half = rot / 2;
  auto rope = [&](const Tensor& x, int64_t row, int64_t h, int64_t t) {
    std::vector<double> y(hd);
    for (int64_t i = 0; i < hd; ++i) y[i] = x[row * d + h * hd + i];
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(t) * std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(rot));
      const double x1 = y[i], x2 = y[i + half];
      y[i] = x1 * std::cos(a) - x2 * std::sin(a);
      y[i + half] = x2 * std::cos(a) + x1 * std::sin(a);
    }
    return y;
  };
  std::vector<double> out(B * T * d, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        const auto qi = rope(q, b * T + i, h, i);
        std::vector<double> s(i + 1, 0.0);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j <= i; ++j) {  // j > i is masked: never looked at
          const auto kj = rope(k, b * T + j, h, j);
          for (int64_t c = 0; c < hd; ++c) s[j] += qi[c] * kj[c];
          s[j] /= std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (auto& x : s) sum += x = std::exp(x - mx);
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t c = 0; c < hd; ++c)
            out[(b * T + i) * d + h * hd + c] += s[j] / sum * v[(b * T + j) * d + h * hd + c];
      }
  return out;
}

void check_against_reference(Engine& engine, CausalSelfAttention& attn, int64_t B, int64_t T, int64_t d, int64_t H,
                             double base, Rng& rng) {
  Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), out;
  fill_normal(q, rng);
  fill_normal(k, rng);
  fill_normal(v, rng);
  attn.forward(engine, q, k, v, B, T, out);
  REQUIRE(out.rows() == B * T);
  REQUIRE(out.cols() == d);
  const auto ref = naive_attention(q, k, v, B, T, H, attn.rotary_dims(), base);
  for (int64_t i = 0; i < out.numel(); ++i) {
    INFO("B " << B << " T " << T << " element " << i);
    REQUIRE(out[i] == Approx(ref[i]).margin(1e-5));
  }
}

void set_row(Tensor& x, int64_t row, const std::vector<float>& values) {
  for (size_t c = 0; c < values.size(); ++c) x[row * x.cols() + static_cast<int64_t>(c)] = values[c];
}

std::vector<float> normal_vector(int64_t n, Rng& rng) {
  std::vector<float> x(n);
  for (auto& e : x) e = static_cast<float>(rng.normal());
  return x;
}

}  // namespace

TEST_CASE("Rotary dims: floor(head_dim * fraction) rounded down to even, bad shapes rejected", "[attention]") {
  REQUIRE(CausalSelfAttention(8, 2, 0.0).rotary_dims() == 0);
  REQUIRE(CausalSelfAttention(8, 2, 0.25).rotary_dims() == 0);  // hd 4 -> 1 -> 0
  REQUIRE(CausalSelfAttention(8, 2, 1.0).rotary_dims() == 4);
  REQUIRE(CausalSelfAttention(32, 2, 0.25).rotary_dims() == 4);
  REQUIRE(CausalSelfAttention(12, 2, 0.5).rotary_dims() == 2);  // hd 6 -> 3 -> 2
  REQUIRE(CausalSelfAttention(12, 2, 1.0).rotary_dims() == 6);
  REQUIRE(CausalSelfAttention(768, 12, 0.25).rotary_dims() == 16);  // the 150M reference config
  REQUIRE_THROWS_AS(CausalSelfAttention(10, 3), std::invalid_argument);
  REQUIRE_THROWS_AS(CausalSelfAttention(8, 2, 1.5), std::invalid_argument);

  Engine engine(1);
  CausalSelfAttention attn(8, 2);
  Tensor q({10, 8}), bad({10, 6}), out, dq, dk, dv;
  REQUIRE_THROWS_AS(attn.backward(engine, q, dq, dk, dv), std::logic_error);
  REQUIRE_THROWS_AS(attn.forward(engine, q, bad, q, 2, 5, out), std::invalid_argument);
  REQUIRE_THROWS_AS(attn.forward(engine, q, q, q, 3, 5, out), std::invalid_argument);
}

TEST_CASE("Attention forward matches a naive double reference", "[attention]") {
  Engine engine(2);
  Rng rng(9);
  SECTION("batch 2, seq 5, d 8, 2 heads, rotary fraction 0, 0.25, 1") {
    // At head_dim 4 a fraction of 0.25 rounds to 0 rotary dims; the d 32 case below covers 0.25 for real.
    for (double fraction : {0.0, 0.25, 1.0}) {
      CausalSelfAttention attn(8, 2, fraction);
      check_against_reference(engine, attn, 2, 5, 8, 2, 10000.0, rng);
    }
  }
  SECTION("d 32, 2 heads, fraction 0.25: 4 rotary dims, two frequencies") {
    CausalSelfAttention attn(32, 2, 0.25);
    REQUIRE(attn.rotary_dims() == 4);
    check_against_reference(engine, attn, 2, 5, 32, 2, 10000.0, rng);
  }
  SECTION("odd half (hd 6, full rotary) and a non-default base") {
    CausalSelfAttention attn(12, 2, 1.0, 500.0);
    check_against_reference(engine, attn, 2, 7, 12, 2, 500.0, rng);
  }
  SECTION("one layer reused across batch and sequence sizes (tables and buffers grow and shrink)") {
    CausalSelfAttention attn(16, 4, 0.5);
    for (auto [B, T] : {std::pair<int64_t, int64_t>{2, 5}, {1, 3}, {3, 9}, {2, 4}})
      check_against_reference(engine, attn, B, T, 16, 4, 10000.0, rng);
  }
  SECTION("causal blocks of 1, 2, 3, 4 and 64 rows (whole, partial and single blocks) all match") {
    for (int64_t block : {1, 2, 3, 4, 64}) {
      INFO("block " << block);
      CausalSelfAttention attn(16, 2, 0.5, 10000.0, Precision::FP32, block);
      check_against_reference(engine, attn, 2, 9, 16, 2, 10000.0, rng);
      check_against_reference(engine, attn, 1, 4, 16, 2, 10000.0, rng);
    }
  }
  SECTION("seq 1: a position attends only to itself, out = v") {
    CausalSelfAttention attn(8, 2, 1.0);
    Tensor q({3, 8}), k({3, 8}), v({3, 8}), out;
    fill_normal(q, rng);
    fill_normal(k, rng);
    fill_normal(v, rng);
    attn.forward(engine, q, k, v, 3, 1, out);
    for (int64_t i = 0; i < v.numel(); ++i) REQUIRE(out[i] == v[i]);
  }
}

TEST_CASE("Attention is causal: position t never affects outputs before t", "[attention]") {
  Engine engine(2);
  const int64_t B = 2, T = 6, d = 8, H = 2;
  Rng rng(1);
  const int64_t block = GENERATE(4, 64);  // across a block boundary, and one block
  INFO("block " << block);
  CausalSelfAttention attn(d, H, 0.5, 10000.0, Precision::FP32, block);
  Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), out1, out2;
  fill_normal(q, rng);
  fill_normal(k, rng);
  fill_normal(v, rng);
  attn.forward(engine, q, k, v, B, T, out1);
  for (int64_t t = 0; t < T; ++t) {
    INFO("changed position " << t << " of batch row 0");
    Tensor q2 = q, k2 = k, v2 = v;
    for (int64_t c = 0; c < d; ++c) {
      q2[t * d + c] += 1.0f;
      k2[t * d + c] -= 2.0f;
      v2[t * d + c] += 3.0f;
    }
    attn.forward(engine, q2, k2, v2, B, T, out2);
    for (int64_t i = 0; i < t * d; ++i) REQUIRE(out1[i] == out2[i]);          // earlier positions: bit-identical
    bool changed = false;
    for (int64_t i = t * d; i < (t + 1) * d; ++i) changed |= out1[i] != out2[i];
    REQUIRE(changed);                                                          // position t itself moves
    for (int64_t i = T * d; i < B * T * d; ++i) REQUIRE(out1[i] == out2[i]);  // other batch row untouched
  }
}

TEST_CASE("Attention backward is causal: dout at t only reaches dq at t and dk, dv at <= t", "[attention]") {
  Engine engine(2);
  const int64_t B = 1, T = 6, d = 8, H = 2;
  Rng rng(4);
  const int64_t block = GENERATE(4, 64);
  INFO("block " << block);
  CausalSelfAttention attn(d, H, 1.0, 10000.0, Precision::FP32, block);
  Tensor q({T, d}), k({T, d}), v({T, d}), out, dout({T, d}), dq, dk, dv;
  fill_normal(q, rng);
  fill_normal(k, rng);
  fill_normal(v, rng);
  attn.forward(engine, q, k, v, B, T, out);
  for (int64_t t = 0; t < T; ++t) {
    INFO("dout nonzero only at position " << t);
    dout.zero();
    for (int64_t c = 0; c < d; ++c) dout[t * d + c] = static_cast<float>(rng.normal());
    attn.backward(engine, dout, dq, dk, dv);
    for (int64_t row = 0; row < T; ++row)
      for (int64_t c = 0; c < d; ++c) {
        if (row != t) REQUIRE(dq[row * d + c] == 0.0f);
        if (row > t) {
          REQUIRE(dk[row * d + c] == 0.0f);
          REQUIRE(dv[row * d + c] == 0.0f);
        }
      }
  }
}

TEST_CASE("Rotary: each pair keeps its norm, pass-through dims are untouched", "[attention]") {
  // Read the rotated query back out of the layer. One head, v = one-hot positions,
  // so out[i][c] = P[i][c]. Batch row j has q0 at every position and k = e_j at
  // position 0 only (rotation at t = 0 is the identity). For i >= 1, k at i is 0, so
  //   log(P[i][0] / P[i][i]) = s(i, 0) - 0 = (rope_i(q0))_j / sqrt(hd).
  const int64_t hd = 8, T = 8;
  Engine engine(2);
  Rng rng(17);
  for (double fraction : {0.5, 1.0}) {
    CausalSelfAttention attn(hd, 1, fraction);
    const int64_t rot = attn.rotary_dims(), half = rot / 2;
    INFO("rotary dims " << rot);
    const auto q0 = normal_vector(hd, rng);
    Tensor q({hd * T, hd}), k({hd * T, hd}), v({hd * T, hd}), out;
    k.zero();
    v.zero();
    for (int64_t j = 0; j < hd; ++j) {
      for (int64_t t = 0; t < T; ++t) {
        set_row(q, j * T + t, q0);
        v[(j * T + t) * hd + t] = 1.0f;
      }
      k[(j * T) * hd + j] = 1.0f;
    }
    attn.forward(engine, q, k, v, hd, T, out);
    for (int64_t i = 1; i < T; ++i) {
      INFO("position " << i);
      std::vector<double> r(hd);
      for (int64_t j = 0; j < hd; ++j) {
        const float* row = out.data() + (j * T + i) * hd;
        r[j] = std::sqrt(static_cast<double>(hd)) * std::log(static_cast<double>(row[0]) / row[i]);
      }
      for (int64_t p = 0; p < half; ++p) {
        const double before = std::hypot(q0[p], q0[p + half]), after = std::hypot(r[p], r[p + half]);
        REQUIRE(after == Approx(before).margin(1e-4));
      }
      for (int64_t c = rot; c < hd; ++c) REQUIRE(r[c] == Approx(q0[c]).margin(1e-4));
      // The fastest pair turns by i radians (never a multiple of 2 pi): it must have moved.
      REQUIRE(std::abs(r[0] - q0[0]) + std::abs(r[half] - q0[half]) > 1e-2);
    }
  }
}

TEST_CASE("Rotary: the score of q at t1 and k at t2 depends only on t1 - t2", "[attention]") {
  // One batch row per pair (t1, t2), t2 <= t1, t1 >= 1: q0 at t1, k0 at t2, every other
  // q and k zero, v = one-hot positions (out[t1][c] = P[t1][c]). The anchor position a
  // (t1 if t2 < t1, else 0) has k = 0, so s(t1, t2) = log(P[t1][t2] / P[t1][a]).
  const int64_t hd = 16, T = 12;
  Engine engine(2);
  Rng rng(23);
  std::vector<std::pair<int64_t, int64_t>> pairs;
  for (int64_t t1 = 1; t1 < T; ++t1)
    for (int64_t t2 = 0; t2 <= t1; ++t2) pairs.emplace_back(t1, t2);
  const int64_t B = static_cast<int64_t>(pairs.size());
  for (double fraction : {0.25, 1.0}) {
    CausalSelfAttention attn(hd, 1, fraction);
    INFO("rotary dims " << attn.rotary_dims());
    const auto q0 = normal_vector(hd, rng), k0 = normal_vector(hd, rng);
    double unrotated = 0;
    for (int64_t c = 0; c < hd; ++c) unrotated += static_cast<double>(q0[c]) * k0[c] / std::sqrt(static_cast<double>(hd));
    Tensor q({B * T, hd}), k({B * T, hd}), v({B * T, hd}), out;
    q.zero();
    k.zero();
    v.zero();
    for (int64_t b = 0; b < B; ++b) {
      set_row(q, b * T + pairs[b].first, q0);
      set_row(k, b * T + pairs[b].second, k0);
      for (int64_t t = 0; t < T; ++t) v[(b * T + t) * hd + t] = 1.0f;
    }
    attn.forward(engine, q, k, v, B, T, out);
    std::vector<double> by_offset(T, std::nan(""));
    double largest_change = 0;
    for (int64_t b = 0; b < B; ++b) {
      const auto [t1, t2] = pairs[b];
      const int64_t anchor = t2 < t1 ? t1 : 0;
      const float* row = out.data() + (b * T + t1) * hd;
      const double score = std::log(static_cast<double>(row[t2]) / row[anchor]);
      INFO("t1 " << t1 << " t2 " << t2);
      if (t1 == t2) REQUIRE(score == Approx(unrotated).margin(1e-5));  // same position: rotations cancel
      if (std::isnan(by_offset[t1 - t2])) by_offset[t1 - t2] = score;
      REQUIRE(score == Approx(by_offset[t1 - t2]).margin(1e-5));
      largest_change = std::max(largest_change, std::abs(score - unrotated));
    }
    REQUIRE(largest_change > 0.05);  // position does matter
  }
}

TEST_CASE("Attention gradients match finite differences", "[attention][gradcheck]") {
  Engine engine(2);
  const int64_t B = 2, T = 5, d = 16, H = 2;
  for (auto [fraction, block] : {std::pair<double, int64_t>{0.0, 64}, {0.5, 64}, {1.0, 64}, {0.5, 2}, {1.0, 3}}) {
    DYNAMIC_SECTION("rotary fraction " << fraction << ", causal block " << block) {
      Rng rng(21);
      CausalSelfAttention attn(d, H, fraction, 10000.0, Precision::FP32, block);
      Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), r({B * T, d}), out, dq, dk, dv;
      fill_normal(q, rng);
      fill_normal(k, rng);
      fill_normal(v, rng);
      fill_normal(r, rng);
      attn.forward(engine, q, k, v, B, T, out);
      attn.backward(engine, r, dq, dk, dv);
      REQUIRE(dq.rows() == B * T);
      REQUIRE(dq.cols() == d);
      // L = sum(out * R) in double, so dL/dout = R. Every element, h = 1e-2,
      // |numeric - analytic| <= 1e-3 + 1e-2 |numeric|.
      Tensor o;
      auto loss = [&] { attn.forward(engine, q, k, v, B, T, o); return dot(o, r); };
      check_gradient("dq", q.data(), dq.data(), q.numel(), loss);
      check_gradient("dk", k.data(), dk.data(), k.numel(), loss);
      check_gradient("dv", v.data(), dv.data(), v.numel(), loss);
    }
  }
}

TEST_CASE("Attention multiplies exactly the (query, key) pairs of its blocks on or below the diagonal",
          "[attention][flops]") {
  // Counted by the engine: each pair (i, j) attention computes costs hd multiply-adds in
  // q k^T and hd in P v, per (b, h): 4 B H hd = 4 B d FLOPs forward, twice that backward
  // (dP and dq; dv and dk). The pairs are those with j in [0, end of i's block).
  Engine engine(1);
  const int64_t B = 2, d = 8, H = 2;
  // With recomputed probabilities the backward forms S once more: 10 B d FLOPs a pair.
  for (bool recompute : {false, true})
  for (int64_t block : {1, 3, 4, 64})
    for (int64_t T : {1, 4, 5, 13}) {
      INFO("block " << block << " T " << T << " recompute " << recompute);
      CausalSelfAttention attn(d, H, 0.5, 10000.0, Precision::FP32, block);
      attn.set_recompute_probs(recompute);
      Tensor q({B * T, d}), out, dq, dk, dv;
      Rng rng(4);
      fill_normal(q, rng);
      int64_t pairs = 0;
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) pairs += j < std::min(T, (i / block + 1) * block);
      MatmulFlopCounter counter;
      engine.set_flop_counter(&counter);
      attn.forward(engine, q, q, q, B, T, out);
      REQUIRE(counter.flops == 4 * B * d * pairs);
      counter.flops = 0;
      attn.backward(engine, q, dq, dk, dv);
      REQUIRE(counter.flops == (recompute ? 10 : 8) * B * d * pairs);
      engine.set_flop_counter(nullptr);
      if (block >= T) REQUIRE(pairs == T * T);  // one block: the whole T x T
      if (block == 1) REQUIRE(pairs == T * (T + 1) / 2);  // exactly the causal triangle
    }
}

TEST_CASE("Attention is deterministic and reuses its buffers across sizes", "[attention]") {
  // Blocks of 3 rows, and the shared backward scratch filled with NaN before each backward:
  // a read of a score the blocks never wrote (above the diagonal, or left by an earlier
  // size) would turn the gradients into NaN or make the repeated run differ.
  Engine engine(2);
  const int64_t d = 16, H = 2;
  CausalSelfAttention attn(d, H, 0.5, 10000.0, Precision::FP32, 3);
  auto run = [&](int64_t B, int64_t T, uint64_t seed, Tensor& out, Tensor& dq, Tensor& dk, Tensor& dv) {
    Rng r(seed);
    Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), dout({B * T, d});
    fill_normal(q, r);
    fill_normal(k, r);
    fill_normal(v, r);
    fill_normal(dout, r);
    attn.forward(engine, q, k, v, B, T, out);
    Tensor& scores_grad = layer_backward_scratch(engine).scores_grad;
    scores_grad.resize({B * H, T, T});
    scores_grad.fill(std::numeric_limits<float>::quiet_NaN());
    attn.backward(engine, dout, dq, dk, dv);
    for (const Tensor* x : {&out, &dq, &dk, &dv})
      for (int64_t i = 0; i < x->numel(); ++i) REQUIRE(std::isfinite((*x)[i]));
  };
  Tensor out1, dq1, dk1, dv1, out2, dq2, dk2, dv2, scratch[4];
  run(2, 7, 5, out1, dq1, dk1, dv1);
  run(3, 11, 6, scratch[0], scratch[1], scratch[2], scratch[3]);  // larger: buffers and tables grow
  run(1, 3, 7, scratch[0], scratch[1], scratch[2], scratch[3]);   // smaller
  run(2, 7, 5, out2, dq2, dk2, dv2);
  for (auto [a, b] : {std::pair<Tensor*, Tensor*>{&out1, &out2}, {&dq1, &dq2}, {&dk1, &dk2}, {&dv1, &dv2}}) {
    REQUIRE(a->shape() == b->shape());
    for (int64_t i = 0; i < a->numel(); ++i) REQUIRE((*a)[i] == (*b)[i]);
  }
}

TEST_CASE("Attention in bf16, in blocks or whole, gives the fp32 output and gradients within bf16 rounding",
          "[attention][bf16]") {
  // bf16 rounds each matmul input by at most 2^-8; through the two matmuls each way the
  // outputs and gradients stay within a few 1e-3 in relative L2 norm, far below the O(1)
  // error of a wrong block, view or transpose (see test_bf16.cpp on tolerances).
  Engine engine(2);
  if (!bf16_runs_here(engine)) return;
  const int64_t B = 2, T = 13, d = 32, H = 2;
  Rng rng(8);
  Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), dout({B * T, d});
  for (Tensor* x : {&q, &k, &v, &dout}) fill_normal(*x, rng);
  Tensor out32, dq32, dk32, dv32;
  CausalSelfAttention reference(d, H, 0.5);
  reference.forward(engine, q, k, v, B, T, out32);
  reference.backward(engine, dout, dq32, dk32, dv32);
  for (int64_t block : {4, 5, 64}) {
    INFO("bf16, block " << block);
    CausalSelfAttention attn(d, H, 0.5, 10000.0, Precision::BF16, block);
    Tensor out, dq, dk, dv;
    attn.forward(engine, q, k, v, B, T, out);
    attn.backward(engine, dout, dq, dk, dv);
    for (auto [got, want] : {std::pair<Tensor*, Tensor*>{&out, &out32}, {&dq, &dq32}, {&dk, &dk32}, {&dv, &dv32}}) {
      const double err = relative_l2(*got, *want);
      INFO("relative L2 error " << err);
      REQUIRE(err > 0);  // the bf16 path is really taken
      REQUIRE(err < 1e-2);
    }
  }
}

TEST_CASE("Attention with recomputed probabilities: the same output, gradients to rounding, finite differences",
          "[attention][recompute]") {
  // train.recompute attention keeps no T x T matrix: the forward runs one query block at a
  // time through a shared buffer (same products, same softmax arithmetic: the same output
  // to the bit), the backward forms S and P again per block and sums dk', dv over the
  // blocks (another order of the same sums: equal to rounding). The backward scratch is
  // filled with NaN first: a read of an entry no block wrote shows up.
  Engine engine(2);
  const int64_t d = 16, H = 2;
  for (int64_t block : {1, 3, 4, 64})
    for (auto [batch, seq] : {std::pair<int64_t, int64_t>{2, 5}, {1, 13}, {2, 16}}) {
      const int64_t B = batch, T = seq;  // the lambda below captures them (clang 14: no structured bindings)
      DYNAMIC_SECTION("block " << block << ", B " << B << ", T " << T) {
        Rng rng(31);
        Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), r({B * T, d});
        for (Tensor* x : {&q, &k, &v, &r}) fill_normal(*x, rng);
        CausalSelfAttention kept(d, H, 0.5, 10000.0, Precision::FP32, block);
        CausalSelfAttention recomputed(d, H, 0.5, 10000.0, Precision::FP32, block);
        recomputed.set_recompute_probs(true);
        Tensor out_kept, dq_kept, dk_kept, dv_kept, out, dq, dk, dv;
        kept.forward(engine, q, k, v, B, T, out_kept);
        kept.backward(engine, r, dq_kept, dk_kept, dv_kept);
        recomputed.forward(engine, q, k, v, B, T, out);
        layer_backward_scratch(engine).scores_grad.fill(std::numeric_limits<float>::quiet_NaN());
        recomputed.backward(engine, r, dq, dk, dv);
        REQUIRE(out.shape() == out_kept.shape());
        for (int64_t i = 0; i < out.numel(); ++i) REQUIRE(out[i] == out_kept[i]);
        for (auto [got, want] : {std::pair<Tensor*, Tensor*>{&dq, &dq_kept}, {&dk, &dk_kept}, {&dv, &dv_kept}}) {
          REQUIRE(got->shape() == want->shape());
          const double err = relative_l2(*got, *want);
          INFO("relative L2 difference " << err);
          REQUIRE(err < 1e-6);
        }
        Tensor o;
        auto loss = [&] { recomputed.forward(engine, q, k, v, B, T, o); return dot(o, r); };
        check_gradient("dq", q.data(), dq.data(), q.numel(), loss, 1e-2, 1e-3, 1e-2, 3);
        check_gradient("dk", k.data(), dk.data(), k.numel(), loss, 1e-2, 1e-3, 1e-2, 3);
        check_gradient("dv", v.data(), dv.data(), v.numel(), loss, 1e-2, 1e-3, 1e-2, 3);
      }
    }
}

TEST_CASE("Attention with recomputed probabilities in bf16 matches fp32 within bf16 rounding",
          "[attention][recompute][bf16]") {
  Engine engine(2);
  const int64_t B = 2, d = 16, H = 2;
  if (!bf16_runs_here(engine)) return;
  const int64_t T = 13;
  Rng rng(8);
  Tensor q({B * T, d}), k({B * T, d}), v({B * T, d}), dout({B * T, d});
  for (Tensor* x : {&q, &k, &v, &dout}) fill_normal(*x, rng);
  Tensor out32, dq32, dk32, dv32, out, dqb, dkb, dvb;
  CausalSelfAttention reference(d, H, 0.5);
  reference.forward(engine, q, k, v, B, T, out32);
  reference.backward(engine, dout, dq32, dk32, dv32);
  CausalSelfAttention attn(d, H, 0.5, 10000.0, Precision::BF16, 4);
  attn.set_recompute_probs(true);
  attn.forward(engine, q, k, v, B, T, out);
  attn.backward(engine, dout, dqb, dkb, dvb);
  for (auto [got, want] : {std::pair<Tensor*, Tensor*>{&out, &out32}, {&dqb, &dq32}, {&dkb, &dk32}, {&dvb, &dv32}}) {
    const double err = relative_l2(*got, *want);
    INFO("relative L2 error " << err);
    REQUIRE(err > 0);
    REQUIRE(err < 1e-2);  // bf16 rounding, as in the kept-probabilities bf16 test above
  }
}
