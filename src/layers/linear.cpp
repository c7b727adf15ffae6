#include "layers/linear.h"

#include <stdexcept>

#include "layers/backward_scratch.h"
#include "layers/gelu.h"
#include "layers/quantized_matmul.h"
#include "layers/step_parts.h"

namespace tg {

Linear::Linear(const std::string& name, int64_t d_in, int64_t d_out, Precision precision, Axis in_axis, Axis out_axis,
               WeightFormat weights)
    : d_in_(d_in),
      d_out_(d_out),
      precision_(precision),
      weights_(weights),
      weight_(name + "/weight", {d_out, d_in}, {out_axis, in_axis}, OptimizerGroup::Decay, 1),
      int8_(name + "/weight", d_out, d_in) {}

void Linear::init(Rng& rng, float std) {
  for (int64_t i = 0; i < weight_.value.numel(); ++i) weight_.value[i] = std * static_cast<float>(rng.normal());
}

MatmulInput Linear::save_input(const Tensor& x) {
  x_ = &x;
  if (weights_ != WeightFormat::Float) quantized_.update(weights_, weight_.value);
  return matmul_input(precision_, x.data(), x.numel(), x_bf_);
}

void Linear::forward(Engine& engine, const Tensor& x, Tensor& y) {
  const int64_t T = x.rows();
  y.resize({T, d_out_});
  PartScope scope(engine.part_timer(), step_part::kPattentionMatmul);
  // Inference: Y = X~ W~^T with W~'s levels fixed at load, on int8 kernels (no bf16 copy
  // of X: there is no backward to read it).
  if (int8_.frozen)
    return quantized_product_int8(engine, x.data(), T, d_in_, int8_, Trans::Yes, int8_.scales.data(), y.data(), d_out_);
  // Y (T x d_out) = X (T x d_in) W^T (d_in x d_out)
  const MatmulInput x_in = save_input(x);
  if (weights_ == WeightFormat::Float) {
    engine.matmul_weight(x_in, Trans::No, weight_.value.data(), Trans::Yes, y.data(), T, d_out_, d_in_);
    return;
  }
  // Y = X~ W~^T: W~'s row scales index Y's columns.
  quantized_product(engine, precision_, x.data(), T, d_in_, quantized_.levels, Trans::Yes, quantized_.scales.data(),
                    y.data(), d_out_);
}

void Linear::backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) {
  if (int8_.frozen) throw std::logic_error("Linear::backward: " + int8_.name + " has frozen int8 weights (inference only)");
  const int64_t T = dy.rows();
  PartScope scope(engine.part_timer(), step_part::kPattentionMatmul);
  // dW (d_out x d_in) += dY^T (d_out x T) X (T x d_in)
  Bf16Buffer& dy_bf = layer_backward_scratch(engine).output_grad_bf16;
  const MatmulInput dy_in = matmul_input(precision_, dy.data(), dy.numel(), dy_bf);
  engine.matmul(dy_in, Trans::Yes, matmul_input_again(precision_, x_->data(), x_bf_), Trans::No, weight_.grad.data(),
                d_out_, d_in_, T, 1.0f, 1.0f);
  // dX (T x d_in) (+)= dY (T x d_out) W (d_out x d_in); quantised: W~ (straight-through,
  // and dW above reads the float X: the quantisers count as the identity in the backward).
  if (!accumulate_dx) dx.resize({T, d_in_});
  const float* w = weight_.value.data();
  if (weights_ != WeightFormat::Float) {
    Tensor& dequantized = layer_backward_scratch(engine).weight_dequantized;
    quantized_.dequantize(dequantized);
    w = dequantized.data();
  }
  engine.matmul_weight(dy_in, Trans::No, w, Trans::No, dx.data(), T, d_in_, d_out_, 1.0f, accumulate_dx ? 1.0f : 0.0f);
}

Mlp::Mlp(const std::string& name, int64_t d, int64_t hidden, Precision precision, WeightFormat weights)
    : up_(name + "/up", d, hidden, precision, Axis::Model, Axis::Hidden, weights),
      down_(name + "/down", hidden, d, precision, Axis::Hidden, Axis::Model, weights) {}

void Mlp::init(Rng& rng, float up_std, float down_std) {
  up_.init(rng, up_std);
  down_.init(rng, down_std);
}

void Mlp::collect_parameters(std::vector<Parameter*>& out) {
  up_.collect_parameters(out);
  down_.collect_parameters(out);
}

void Mlp::swap_saved(SavedSwap& swap) {
  up_.swap_saved(swap);
  down_.swap_saved(swap);
  for (Tensor* t : {&pre_, &act_, &d_act_}) swap(*t);
}

void Mlp::forward(Engine& engine, const Tensor& x, Tensor& y) {
  form_activation(engine, x);
  down_.forward(engine, act_, y);
}

void Mlp::forward_for_backward(Engine& engine, const Tensor& x) {
  form_activation(engine, x);
  down_.forward_for_backward(engine, act_);
}

void Mlp::form_activation(Engine& engine, const Tensor& x) {
  up_.forward(engine, x, pre_);
  act_.resize(pre_.shape());
  const int64_t n = pre_.numel();
  {
    PartScope scope(engine.part_timer(), step_part::kPattentionNorm);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) act_[i] = gelu(pre_[i]);
  }
}

void Mlp::backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) {
  down_.backward(engine, dy, d_act_, false);
  const int64_t n = pre_.numel();
  {
    PartScope scope(engine.part_timer(), step_part::kPattentionNorm);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) d_act_[i] *= gelu_grad(pre_[i]);
  }
  up_.backward(engine, d_act_, dx, accumulate_dx);
}

}  // namespace tg
