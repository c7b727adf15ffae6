#pragma once
// A decoder-only language model: embedding -> blocks -> final affine LayerNorm ->
// logits = h E^T (tied embedding) -> softmax cross-entropy.
//
// Parameter names are checkpoint paths under /model:
//   embedding                                   V x d
//   final_norm/{weight,bias}                    d
//   layers/<i>/attn/{query,key,value,proj}/{keys,values}   TokenFormer (n x d each)
//   layers/<i>/ffn/{keys,values}
//   layers/<i>/attn/{query,key,value,proj}/weight          Transformer (d x d)
//   layers/<i>/ffn/{up,down}/weight
#include <memory>
#include <vector>

#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/pattention.h"
#include "model/block.h"
#include "model/model_config.h"

namespace tg {

class LanguageModel {
 public:
  explicit LanguageModel(const ModelConfig& config);

  // Draws every parameter from rng (keys/in-projections N(0, init_std); values and
  // output projections N(0, ModelConfig::residual_init_std()); embedding N(0, init_std)).
  void init(Rng& rng);

  // inputs/targets: batch * seq token ids (row b*seq + t). Returns the mean loss in
  // nats. With need_grad, keeps what backward() needs.
  double forward(Engine& engine, const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets,
                 int64_t batch, int64_t seq, bool need_grad);
  // Accumulates dL/dparameter for the last forward (call zero_grad() first).
  void backward(Engine& engine);
  // Logits (batch * seq) x vocab for sampling.
  void logits(Engine& engine, const std::vector<int32_t>& inputs, int64_t batch, int64_t seq, Tensor& out);

  // Moves step-dependent state (annealed Pattention tau) to the given global step.
  void set_step(int64_t step);
  void zero_grad();
  // Activation checkpointing of every block (model/block.h).
  void set_recompute(Recompute r) {
    for (auto& b : blocks_) b->set_recompute(r);
  }
  const std::vector<Parameter*>& parameters() { return parameters_; }
  // The int8 inference form of every Pattention key/value or Linear weight matrix
  // (layers/int8_weight.h), named as its parameter. Once they are frozen (binary/ternary
  // weights only), forward() and logits() run those products on int8 kernels and give
  // the same numbers as the training forward; backward() is refused.
  std::vector<Int8Weight*> int8_weights();
  Parameter* find_parameter(const std::string& name);
  // Pattention layers with their checkpoint group names (empty for the Transformer).
  const std::vector<Pattention*>& pattentions() { return pattentions_; }
  int64_t n_params() const;
  // Model FLOPs of one forward pass (model/model_cost.h: every matmul, attention over the
  // full T x T); a training step's: step_cost there.
  double forward_flops(int64_t batch, int64_t seq) const;
  const ModelConfig& config() const { return config_; }

 private:
  void run_trunk(Engine& engine, const std::vector<int32_t>& inputs, int64_t batch, int64_t seq);

  ModelConfig config_;
  Embedding embedding_;
  std::vector<std::unique_ptr<Block>> blocks_;
  LayerNorm final_norm_;
  std::vector<Parameter*> parameters_;
  std::vector<Pattention*> pattentions_;

  // Activations: block inputs x_[0..L], final norm output, logits/dlogits.
  std::vector<Tensor> x_;
  Tensor normed_, logits_;
  std::vector<int32_t> inputs_;
  Tensor d_normed_, d_x_a_, d_x_b_;
  Bf16Buffer normed_bf_, d_logits_bf_;  // bf16 precision only
};

}  // namespace tg
