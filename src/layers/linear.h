#pragma once
// The Transformer baseline's mappings: a bias-free Linear and a GELU MLP.
//   Linear: Y = X W^T, W: d_out x d_in (PyTorch layout)
//           binary/ternary weights: Y = X~ W~^T, W~ quantised per output row (layers/weight_quantization.h)
//   MLP:    Y = GELU(X W_up^T) W_down^T, W_up: hidden x d, W_down: d x hidden
#include <string>

#include "core/precision.h"
#include "core/rng.h"
#include "layers/int8_weight.h"
#include "layers/mapping.h"
#include "layers/weight_quantization.h"

namespace tg {

class Linear : public Mapping {
 public:
  // Parameter name + "/weight" (d_out x d_in, its axes {out_axis, in_axis}).
  // precision: of the matmuls (core/precision.h); weights: float or BitNet-quantised.
  Linear(const std::string& name, int64_t d_in, int64_t d_out, Precision precision = Precision::FP32,
         Axis in_axis = Axis::Model, Axis out_axis = Axis::Model, WeightFormat weights = WeightFormat::Float);
  void init(Rng& rng, float std);
  void init(Rng& rng, const InitScales& scales, bool writes_residual) override {
    init(rng, writes_residual ? scales.residual_std : scales.std);
  }

  void forward(Engine& engine, const Tensor& x, Tensor& y) override;
  void forward_for_backward(Engine&, const Tensor& x) override { save_input(x); }
  void backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) override;
  void collect_parameters(std::vector<Parameter*>& out) override { out.push_back(&weight_); }
  void swap_saved(SavedSwap& swap) override { swap(x_bf_); }
  // W as int8 (name + "/weight"); frozen: forward-only, on int8 kernels.
  void collect_int8_weights(std::vector<Int8Weight*>& out) override { out.push_back(&int8_); }
  Parameter& weight() { return weight_; }

 private:
  // Keeps x (and its bf16 copy, and the quantised weight) for backward; returns x as
  // the product's input.
  MatmulInput save_input(const Tensor& x);
  int64_t d_in_, d_out_;
  Precision precision_;
  WeightFormat weights_;
  Parameter weight_;
  QuantizedWeight quantized_;  // binary/ternary: Q and its row scales, from the last forward
  Int8Weight int8_;            // inference: fixed at load (frozen) or unused
  const Tensor* x_ = nullptr;
  Bf16Buffer x_bf_;  // bf16 precision only
};

class Mlp : public Mapping {
 public:
  // Parameters name + "/up/weight" and name + "/down/weight".
  Mlp(const std::string& name, int64_t d, int64_t hidden, Precision precision = Precision::FP32,
      WeightFormat weights = WeightFormat::Float);
  void init(Rng& rng, float up_std, float down_std);
  // The up projection reads the block's input, the down projection writes its output.
  void init(Rng& rng, const InitScales& scales, bool /*writes_residual*/) override {
    init(rng, scales.std, scales.residual_std);
  }

  void forward(Engine& engine, const Tensor& x, Tensor& y) override;
  void forward_for_backward(Engine& engine, const Tensor& x) override;
  void backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) override;
  void collect_parameters(std::vector<Parameter*>& out) override;
  void swap_saved(SavedSwap& swap) override;
  void collect_int8_weights(std::vector<Int8Weight*>& out) override {
    up_.collect_int8_weights(out);
    down_.collect_int8_weights(out);
  }

 private:
  // pre_ = X W_up^T, act_ = GELU(pre_): everything up to the down projection.
  void form_activation(Engine& engine, const Tensor& x);
  Linear up_, down_;
  Tensor pre_;   // X W_up^T, rows x hidden
  Tensor act_;   // GELU(pre_)
  Tensor d_act_;
};

}  // namespace tg
