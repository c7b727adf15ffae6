// bf16 mixed precision: the conversion, the bf16 matmul, and a whole model in bf16
// against the same model in fp32.
//
// Tolerances: bf16 keeps 8 significant bits, so rounding an input has a relative error of
// at most 2^-8 ~ 0.4%. A product of two rounded inputs is off by at most ~0.8%, and sums of
// many such products with independent errors are off by less in relative norm. Through a
// 2-layer model (about 10 matmuls on each path from input to gradient) the errors add up
// to around 1%: the bounds below (loss 0.5%, each gradient 5% in relative L2 norm) hold
// with margin, yet a wrong operand, transpose or missing term gives errors of order 100%.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include "core/bf16.h"
#include "core/engine.h"
#include "core/rng.h"
#include "gradcheck.h"
#include "model/language_model.h"
#include "test_data.h"
#include "train/trainer.h"
#include "bf16_support.h"

using namespace tg;
using namespace tg::testing;

namespace {
float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

ModelConfig bf16_test_model(Precision precision) {
  ModelConfig c;
  c.vocab_size = 64;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 2;
  c.seq_len = 16;
  c.qkv_tokens = 24;
  c.proj_tokens = 24;
  c.ffn_tokens = 96;
  c.init_std = 0.2;  // larger than the default so that every path carries signal
  c.precision = precision;
  return c;
}
}  // namespace

TEST_CASE("bf16 conversion rounds to nearest even, keeps NaN and infinities", "[bf16]") {
  REQUIRE(float_to_bf16(1.0f) == 0x3f80);
  REQUIRE(float_to_bf16(-2.0f) == 0xc000);
  // 1 + 2^-8 lies halfway between 1 (0x3f80) and 1 + 2^-7 (0x3f81): ties go to even.
  REQUIRE(float_to_bf16(bits_to_float(0x3f808000u)) == 0x3f80);
  // 1 + 3 * 2^-8 lies halfway between 0x3f81 and 0x3f82: even is 0x3f82.
  REQUIRE(float_to_bf16(bits_to_float(0x3f818000u)) == 0x3f82);
  // Just above / below halfway.
  REQUIRE(float_to_bf16(bits_to_float(0x3f808001u)) == 0x3f81);
  REQUIRE(float_to_bf16(bits_to_float(0x3f807fffu)) == 0x3f80);
  REQUIRE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  REQUIRE(bf16_to_float(float_to_bf16(std::numeric_limits<float>::infinity())) == std::numeric_limits<float>::infinity());
  REQUIRE(bf16_to_float(float_to_bf16(3.0f)) == 3.0f);  // exactly representable values survive

  // The vectorised, threaded conversion equals the scalar one everywhere, tail included.
  Rng rng(5);
  const int64_t n = 100003;
  std::vector<float> x(n);
  for (auto& v : x) v = static_cast<float>(rng.normal() * std::exp(8.0 * rng.normal()));
  x[7] = std::numeric_limits<float>::quiet_NaN();
  std::vector<bf16> y(n);
  convert_to_bf16(x.data(), y.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    if (i == 7) {
      REQUIRE(std::isnan(bf16_to_float(y[i])));
      continue;
    }
    REQUIRE(y[i] == float_to_bf16(x[i]));
    REQUIRE(std::abs(bf16_to_float(y[i]) - x[i]) <= std::abs(x[i]) * 0x1p-8f);
  }
}

TEST_CASE("bf16 matmul equals the exact product of the rounded inputs, for every transpose, alpha and beta",
          "[bf16][engine]") {
  Engine engine(2);
  if (!bf16_runs_here(engine)) return;
  Rng rng(2);
  const int64_t batch = 2, m = 9, n = 7, k = 33;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.0f, 1.0f}) {
        const float alpha = 0.5f;
        std::vector<float> a(batch * m * k), b(batch * k * n), c(batch * m * n);
        for (auto& v : a) v = static_cast<float>(rng.normal());
        for (auto& v : b) v = static_cast<float>(rng.normal());
        for (auto& v : c) v = static_cast<float>(rng.normal());
        Bf16Buffer a16, b16;
        a16.assign(a.data(), a.size());
        b16.assign(b.data(), b.size());
        std::vector<double> ref(c.size());
        for (int64_t g = 0; g < batch; ++g)
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              double s = 0;
              for (int64_t p = 0; p < k; ++p) {
                const bf16 av = a16.data()[g * m * k + (ta ? p * m + i : i * k + p)];
                const bf16 bv = b16.data()[g * k * n + (tb ? j * k + p : p * n + j)];
                s += static_cast<double>(bf16_to_float(av)) * bf16_to_float(bv);
              }
              ref[g * m * n + i * n + j] = alpha * s + beta * c[g * m * n + i * n + j];
            }
        engine.matmul(MatmulInput{nullptr, a16.data()}, ta ? Trans::Yes : Trans::No, MatmulInput{nullptr, b16.data()},
                      tb ? Trans::Yes : Trans::No, c.data(), m, n, k, alpha, beta, batch);
        // Products of two bf16 numbers are exact in float32; only the float32 sum rounds.
        for (size_t i = 0; i < c.size(); ++i) REQUIRE(c[i] == Approx(ref[i]).margin(1e-5));
      }
}

TEST_CASE("A model in bf16 gives the fp32 loss and gradients within bf16 rounding, deterministically", "[bf16][model]") {
  Engine engine(2);
  if (!bf16_runs_here(engine)) return;
  LanguageModel fp32(bf16_test_model(Precision::FP32)), bf16(bf16_test_model(Precision::BF16));
  Rng rng(11);
  fp32.init(rng);
  for (Parameter* p : fp32.parameters()) bf16.find_parameter(p->name)->value = p->value;
  const int64_t batch = 3, seq = 16;
  std::vector<int32_t> inputs(batch * seq), targets(batch * seq);
  for (auto& t : inputs) t = static_cast<int32_t>(rng.below(64));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(64));
  auto loss_and_grads = [&](LanguageModel& m) {
    m.zero_grad();
    const double loss = m.forward(engine, inputs, targets, batch, seq, true);
    m.backward(engine);
    return loss;
  };
  const double loss32 = loss_and_grads(fp32), loss16 = loss_and_grads(bf16);
  INFO("fp32 loss " << loss32 << ", bf16 loss " << loss16);
  REQUIRE(loss16 != loss32);  // the bf16 path is really taken
  REQUIRE(std::abs(loss16 - loss32) < 5e-3 * loss32);
  for (Parameter* p : fp32.parameters()) {
    const Parameter* q = bf16.find_parameter(p->name);
    const double err = relative_l2(q->grad, p->grad);
    INFO(p->name << ": relative L2 gradient error " << err);
    REQUIRE(err > 0);
    REQUIRE(err < 5e-2);
  }
  // Same inputs, same bits: bf16 kernels keep a fixed reduction order too.
  std::vector<Tensor> first;
  for (Parameter* p : bf16.parameters()) first.push_back(p->grad);
  REQUIRE(loss_and_grads(bf16) == loss16);
  for (size_t i = 0; i < first.size(); ++i)
    REQUIRE(std::memcmp(first[i].data(), bf16.parameters()[i]->grad.data(), first[i].bytes()) == 0);
}

TEST_CASE("Training in bf16 lowers the loss as fp32 does", "[bf16][train][learning]") {
  TempDir dir("bf16_learning");
  const std::string corpus = make_corpus(dir);
  Engine engine(2);
  if (!bf16_runs_here(engine)) return;
  auto run = [&](Precision precision) {
    RunConfig rc = small_run(corpus, 80);
    rc.model.precision = precision;
    rc.train.lr = 1e-2;
    rc.train.min_lr = 1e-3;
    rc.train.log_every = 40;
    rc.train.eval_every = 80;
    rc.train.eval_batches = 4;
    rc.train.seed = 3;
    testing::CapturedLog log;
    Trainer trainer(rc, engine, log);
    return trainer.run(dir.file("run_" + to_string(precision)));
  };
  const TrainResult r32 = run(Precision::FP32), r16 = run(Precision::BF16);
  INFO("fp32 val loss " << r32.first_val_loss << " -> " << r32.final_val_loss << "; bf16 " << r16.first_val_loss
                        << " -> " << r16.final_val_loss);
  REQUIRE(r16.final_val_loss < 0.6 * r16.first_val_loss);
  REQUIRE(r32.final_val_loss < 0.6 * r32.first_val_loss);
  REQUIRE(std::abs(r16.final_val_loss - r32.final_val_loss) < 0.05);
}
