#pragma once
// Pattention: a layer whose weights are n "parameter tokens" that inputs attend to.
//
//   keys K: n x d_in, values V: n x d_out (no biases)
//   A = X K^T                                   T x n  scores
//   l2_norm_gelu (default): S = GELU(A / ||A_row|| * tau)
//   gelu_l2_norm:           S = GELU(A) / ||GELU(A)_row|| * tau
//   softmax:                S = softmax(A) * tau^2   (max-subtracted; tau^2 = n at creation,
//                                                     matching the reference's softmax * n)
//   Y = S V                                     T x d_out
//
// binary/ternary weights (docs/bitnet.md): K~ and V~ quantised per parameter token (row),
// inputs of both products quantised to 8 bits per row:
//   A = X~ K~^T,   Y = Q8(S diag(s_V)) Q_V    (V's per-token scales s_V folded into S, so
//   every scale stays per token and appending tokens leaves the old ones unchanged)
// Straight-through backward: the float backward with K~, V~ in place of K, V.
//
// Row norms carry eps inside the square root: ||a|| = sqrt(sum a^2 + eps), so an
// all-zero score row gives zeros instead of NaN. tau is stored per layer: sqrt(n)
// at creation. Growth may keep it (with zero keys exact for l2_norm_gelu and gelu_l2_norm,
// never for softmax: docs/growth.md) or recompute it.
#include <algorithm>
#include <string>

#include "core/enum_names.h"
#include "core/precision.h"
#include "core/rng.h"
#include "layers/int8_weight.h"
#include "layers/mapping.h"
#include "layers/weight_quantization.h"

namespace tg {

enum class PattentionNorm { L2NormGelu, GeluL2Norm, Softmax };
inline constexpr EnumNames<PattentionNorm, 3> kPattentionNormNames{
    "Pattention normalization",
    {{{PattentionNorm::L2NormGelu, "l2_norm_gelu"}, {PattentionNorm::GeluL2Norm, "gelu_l2_norm"}, {PattentionNorm::Softmax, "softmax"}}}};

inline std::string to_string(PattentionNorm norm) { return kPattentionNormNames.to_string(norm); }

class Pattention : public Mapping {
 public:
  // name: checkpoint group, e.g. "layers/0/ffn"; parameters are name + "/keys" and "/values".
  // precision: of the four matmuls (core/precision.h); the normalisation is float32 always.
  Pattention(const std::string& name, int64_t d_in, int64_t d_out, int64_t n_tokens,
             PattentionNorm norm, float eps = 1e-6f, Precision precision = Precision::FP32,
             WeightFormat weights = WeightFormat::Float);

  // keys ~ N(0, key_std), values ~ N(0, value_std).
  void init(Rng& rng, float key_std, float value_std);
  // Keys from scales.std; values, which write the output, from scales.residual_std.
  void init(Rng& rng, const InitScales& scales, bool /*writes_residual*/) override {
    init(rng, scales.std, scales.residual_std);
  }

  void forward(Engine& engine, const Tensor& x, Tensor& y) override;
  void forward_for_backward(Engine& engine, const Tensor& x) override { form_scores(engine, x); }
  void backward(Engine& engine, const Tensor& dy, Tensor& dx, bool accumulate_dx) override;
  void collect_parameters(std::vector<Parameter*>& out) override;
  void swap_saved(SavedSwap& swap) override;
  // Keys and values as int8 (name + "/keys", "/values"); frozen: forward-only, on int8 kernels.
  void collect_int8_weights(std::vector<Int8Weight*>& out) override {
    out.push_back(&keys_i8_);
    out.push_back(&values_i8_);
  }

  const std::string& name() const { return name_; }
  // Fixed at construction (growth builds a new layer); also valid when a packed model has
  // released the float keys.
  int64_t n_tokens() const { return keys_i8_.rows; }
  int64_t d_in() const { return d_in_; }
  int64_t d_out() const { return d_out_; }
  PattentionNorm norm() const { return norm_; }
  WeightFormat weights() const { return weights_; }
  float tau() const { return tau_; }
  void set_tau(float tau) {
    tau_ = tau;
    anneal_ = {};
  }

  // tau moving linearly from `from` to `to` over steps [start_step, start_step + steps]
  // (used after growth: exact at the moment of growth, then towards the new sqrt(n)).
  struct TauAnneal {
    float from = 0, to = 0;
    int64_t start_step = 0, steps = 0;  // steps == 0: no anneal
  };
  // Stores the anneal; tau itself changes only through update_tau(step).
  void set_tau_anneal(const TauAnneal& anneal) { anneal_ = anneal; }
  const TauAnneal& tau_anneal() const { return anneal_; }
  // Sets tau for the given global training step (no-op without an anneal).
  void update_tau(int64_t step) {
    if (anneal_.steps <= 0) return;
    const double frac = std::clamp(static_cast<double>(step - anneal_.start_step) / anneal_.steps, 0.0, 1.0);
    tau_ = static_cast<float>(anneal_.from + (anneal_.to - anneal_.from) * frac);
  }
  Parameter& keys() { return keys_; }
  Parameter& values() { return values_; }

 private:
  // The forward up to S = norm(X K^T) (saved, with everything backward reads).
  void form_scores(Engine& engine, const Tensor& x);
  // Quantised weights: Y = Q8(S diag(s_V)) Q_V from act_ (S); on the int8 kernels when
  // the values are frozen.
  void values_forward_quantized(Engine& engine, Tensor& y);
  bool int8_frozen() const { return keys_i8_.frozen && values_i8_.frozen; }
  // The weight the backward multiplies by: W, or W~ in the shared scratch.
  const float* backward_weight(Engine& engine, const Parameter& w, const QuantizedWeight& q) const;

  std::string name_;
  int64_t d_in_, d_out_;
  PattentionNorm norm_;
  float eps_;
  Precision precision_;
  WeightFormat weights_;
  float tau_;
  TauAnneal anneal_;
  Parameter keys_, values_;
  QuantizedWeight keys_q_, values_q_;  // binary/ternary: from the last forward
  Int8Weight keys_i8_, values_i8_;     // inference: fixed at load (frozen) or unused

  // Saved by forward for backward.
  const Tensor* x_ = nullptr;
  Tensor scores_;     // A, T x n
  Tensor act_;        // S, T x n
  Tensor row_norm_;   // r per row (norm variants), T
  // bf16 precision only: bf16 copies of the activations X and S (the weights are rounded
  // to bf16 as Engine::matmul_weight packs them). With l2_norm_gelu, S is kept in bf16
  // only (its backward needs A, not S).
  Bf16Buffer x_bf_, act_bf_;
  Tensor norm_rows_;  // one row of S per thread when S is written in bf16 only
};

}  // namespace tg
