#include "layers/pattention.h"

#include <cmath>
#include <optional>
#include <stdexcept>

#include <omp.h>

#include "core/error.h"
#include "layers/backward_scratch.h"
#include "layers/pattention_norm.h"
#include "layers/quantized_matmul.h"
#include "layers/step_parts.h"

namespace tg {

Pattention::Pattention(const std::string& name, int64_t d_in, int64_t d_out, int64_t n_tokens,
                       PattentionNorm norm, float eps, Precision precision, WeightFormat weights)
    : name_(name), d_in_(d_in), d_out_(d_out), norm_(norm), eps_(eps), precision_(precision), weights_(weights),
      tau_(std::sqrt(static_cast<float>(n_tokens))),
      keys_(name + "/keys", {n_tokens, d_in}, {Axis::Tokens, Axis::Model}, OptimizerGroup::Decay, 1),
      values_(name + "/values", {n_tokens, d_out}, {Axis::Tokens, Axis::Model}, OptimizerGroup::Decay, 0),
      keys_i8_(name + "/keys", n_tokens, d_in),
      values_i8_(name + "/values", n_tokens, d_out) {}

void Pattention::init(Rng& rng, float key_std, float value_std) {
  for (int64_t i = 0; i < keys_.value.numel(); ++i) keys_.value[i] = key_std * static_cast<float>(rng.normal());
  for (int64_t i = 0; i < values_.value.numel(); ++i) values_.value[i] = value_std * static_cast<float>(rng.normal());
}

void Pattention::collect_parameters(std::vector<Parameter*>& out) {
  out.push_back(&keys_);
  out.push_back(&values_);
}

void Pattention::swap_saved(SavedSwap& swap) {
  for (Tensor* t : {&scores_, &act_, &row_norm_, &norm_rows_}) swap(*t);
  for (Bf16Buffer* b : {&x_bf_, &act_bf_}) swap(*b);
}

void Pattention::form_scores(Engine& engine, const Tensor& x) {
  const int64_t T = x.rows(), n = n_tokens();
  x_ = &x;
  const Precision p = precision_;
  const bool quantized = weights_ != WeightFormat::Float;
  // bf16 with l2_norm_gelu: S goes straight to bf16, never stored in float32 (quantised
  // weights need S in float32 to fold V's scales into it).
  const bool bf16_only = p == Precision::BF16 && norm_ == PattentionNorm::L2NormGelu && !quantized;
  scores_.resize({T, n});
  row_norm_.resize({T});
  // One row per thread of the team the norm kernel's parallel loop will get.
  if (bf16_only) norm_rows_.resize({omp_get_max_threads(), n});
  else act_.resize({T, n});
  if (p == Precision::BF16) act_bf_.resize(T * n);
  PartTimer* timer = engine.part_timer();
  std::optional<PartScope> scope(std::in_place, timer, step_part::kPattentionMatmul);
  // A (T x n) = X (T x d_in) K^T (d_in x n)
  const MatmulInput x_in = matmul_input(p, x.data(), x.numel(), x_bf_);
  if (quantized && int8_frozen()) {
    // Inference: K's levels fixed at load, the same product on int8 kernels.
    quantized_product_int8(engine, x.data(), T, d_in_, keys_i8_, Trans::Yes, keys_i8_.scales.data(), scores_.data(), n);
  } else if (quantized) {
    keys_q_.update(weights_, keys_.value);
    values_q_.update(weights_, values_.value);
    quantized_product(engine, p, x.data(), T, d_in_, keys_q_.levels, Trans::Yes, keys_q_.scales.data(),
                      scores_.data(), n);
  } else {
    engine.matmul_weight(x_in, Trans::No, keys_.value.data(), Trans::Yes, scores_.data(), T, n, d_in_);
  }

  scope.emplace(timer, step_part::kPattentionNorm);
  pattention_norm_forward({norm_, tau_, eps_}, scores_.data(), bf16_only ? nullptr : act_.data(),
                          p == Precision::BF16 ? act_bf_.data() : nullptr, norm_rows_.data(), row_norm_.data(), T, n);
}

void Pattention::forward(Engine& engine, const Tensor& x, Tensor& y) {
  form_scores(engine, x);
  const int64_t T = x.rows(), n = n_tokens();
  PartScope scope(engine.part_timer(), step_part::kPattentionMatmul);
  // Y (T x d_out) = S (T x n) V (n x d_out)
  y.resize({T, d_out_});
  if (weights_ != WeightFormat::Float) {
    values_forward_quantized(engine, y);
    return;
  }
  const MatmulInput act_in = matmul_input_again(precision_, act_.data(), act_bf_);
  engine.matmul_weight(act_in, Trans::No, values_.value.data(), Trans::No, y.data(), T, d_out_, n);
}

void Pattention::values_forward_quantized(Engine& engine, Tensor& y) {
  // U = S diag(s_V) (T x n), then Y = Q8(U) Q_V: V's row scales index the contracted axis.
  const int64_t T = act_.rows(), n = n_tokens();
  Tensor& scaled = quantized_forward_scratch(engine).scaled_scores;
  scaled.resize({T, n});
  const bool frozen = int8_frozen();
  const float* s_v = frozen ? values_i8_.scales.data() : values_q_.scales.data();
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < n; ++i) scaled[t * n + i] = act_[t * n + i] * s_v[i];
  if (frozen) quantized_product_int8(engine, scaled.data(), T, n, values_i8_, Trans::No, nullptr, y.data(), d_out_);
  else quantized_product(engine, precision_, scaled.data(), T, n, values_q_.levels, Trans::No, nullptr, y.data(), d_out_);
}

const float* Pattention::backward_weight(Engine& engine, const Parameter& w, const QuantizedWeight& q) const {
  if (weights_ == WeightFormat::Float) return w.value.data();
  Tensor& dequantized = layer_backward_scratch(engine).weight_dequantized;
  q.dequantize(dequantized);
  return dequantized.data();
}

void Pattention::backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) {
  if (int8_frozen()) throw std::logic_error("Pattention::backward: " + name_ + " has frozen int8 weights (inference only)");
  const Tensor& x = *x_;
  const int64_t T = x.rows(), n = n_tokens();
  LayerBackwardScratch& scratch = layer_backward_scratch(engine);
  Tensor& d_act = scratch.scores_grad;
  d_act.resize({T, n});
  const Precision p = precision_;
  PartTimer* timer = engine.part_timer();
  std::optional<PartScope> scope(std::in_place, timer, step_part::kPattentionMatmul);
  const MatmulInput dy_in = matmul_input(p, dy.data(), dy.numel(), scratch.output_grad_bf16);
  const MatmulInput act_in = matmul_input_again(p, act_.data(), act_bf_);
  // dV (n x d_out) += S^T (n x T) dY (T x d_out)
  engine.matmul(act_in, Trans::Yes, dy_in, Trans::No, values_.grad.data(), n, d_out_, T, 1.0f, 1.0f);
  // dS (T x n) = dY (T x d_out) V^T (d_out x n); quantised: V~ (straight-through)
  engine.matmul_weight(dy_in, Trans::No, backward_weight(engine, values_, values_q_), Trans::Yes, d_act.data(), T, n,
                       d_out_);

  scope.emplace(timer, step_part::kPattentionNorm);
  // dS -> dA in place, row by row.
  pattention_norm_backward({norm_, tau_, eps_}, scores_.data(), norm_ == PattentionNorm::L2NormGelu ? nullptr : act_.data(),
                           row_norm_.data(), d_act.data(), T, n);

  scope.emplace(timer, step_part::kPattentionMatmul);
  const MatmulInput d_act_in = matmul_input(p, d_act.data(), d_act.numel(), scratch.scores_grad_bf16);
  const MatmulInput x_in = matmul_input_again(p, x.data(), x_bf_);
  // dK (n x d_in) += dA^T (n x T) X (T x d_in)
  engine.matmul(d_act_in, Trans::Yes, x_in, Trans::No, keys_.grad.data(), n, d_in_, T, 1.0f, 1.0f);
  // dX (T x d_in) (+)= dA (T x n) K (n x d_in)
  if (!accumulate_dx) dx.resize({T, d_in_});
  engine.matmul_weight(d_act_in, Trans::No, backward_weight(engine, keys_, keys_q_), Trans::No, dx.data(), T, d_in_, n,
                       1.0f, accumulate_dx ? 1.0f : 0.0f);
}

}  // namespace tg
