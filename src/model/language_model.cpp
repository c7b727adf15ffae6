#include "model/language_model.h"

#include <cmath>
#include <optional>

#include "layers/cross_entropy.h"
#include "layers/linear.h"
#include "layers/step_parts.h"
#include "model/model_cost.h"

namespace tg {

namespace {
BlockMappings make_mappings(const ModelConfig& c, int64_t layer, std::vector<Pattention*>& pattentions) {
  const std::string prefix = "layers/" + std::to_string(layer);
  const int64_t d = c.d_model;
  BlockMappings m;
  if (c.architecture == Architecture::TokenFormer) {
    auto make = [&](const std::string& name, int64_t n) {
      auto p = std::make_unique<Pattention>(prefix + name, d, d, n, c.normalization, 1e-6f, c.precision, c.weights);
      pattentions.push_back(p.get());
      return p;
    };
    m.query = make("/attn/query", c.qkv_tokens);
    m.key = make("/attn/key", c.qkv_tokens);
    m.value = make("/attn/value", c.qkv_tokens);
    m.proj = make("/attn/proj", c.proj_tokens);
    m.ffn = make("/ffn", c.ffn_tokens);
  } else {
    auto linear = [&](const std::string& name) {
      return std::make_unique<Linear>(prefix + name, d, d, c.precision, Axis::Model, Axis::Model, c.weights);
    };
    m.query = linear("/attn/query");
    m.key = linear("/attn/key");
    m.value = linear("/attn/value");
    m.proj = linear("/attn/proj");
    m.ffn = std::make_unique<Mlp>(prefix + "/ffn", d, c.ffn_hidden, c.precision, c.weights);
  }
  return m;
}
}  // namespace

LanguageModel::LanguageModel(const ModelConfig& config)
    : config_(config), embedding_(config.vocab_size, config.d_model), final_norm_("final_norm", config.d_model, true) {
  for (int64_t i = 0; i < config.n_layers; ++i)
    blocks_.push_back(std::make_unique<Block>(config.d_model, config.n_heads, config.rotary_fraction, config.rotary_base,
                                              make_mappings(config, i, pattentions_), config.precision));
  parameters_.push_back(&embedding_.table());
  final_norm_.collect_parameters(parameters_);
  for (auto& b : blocks_) b->collect_parameters(parameters_);
  x_.resize(config.n_layers + 1);
}

void LanguageModel::init(Rng& rng) {
  InitScales scales;
  scales.std = static_cast<float>(config_.init_std);
  scales.residual_std = static_cast<float>(config_.residual_init_std());
  embedding_.init(rng, scales.std);
  for (auto& b : blocks_) b->init(rng, scales);
}

Parameter* LanguageModel::find_parameter(const std::string& name) {
  for (Parameter* p : parameters_)
    if (p->name == name) return p;
  return nullptr;
}

std::vector<Int8Weight*> LanguageModel::int8_weights() {
  std::vector<Int8Weight*> out;
  for (auto& b : blocks_) b->collect_int8_weights(out);
  return out;
}

int64_t LanguageModel::n_params() const {
  int64_t n = 0;
  for (const Parameter* p : parameters_) n += p->value.numel();
  return n;
}

double LanguageModel::forward_flops(int64_t batch, int64_t seq) const {
  return forward_model_flops(config_, batch, seq);
}

void LanguageModel::set_step(int64_t step) {
  for (Pattention* p : pattentions_) p->update_tau(step);
}

void LanguageModel::zero_grad() {
  for (Parameter* p : parameters_) p->grad.zero();
}

void LanguageModel::run_trunk(Engine& engine, const std::vector<int32_t>& inputs, int64_t batch, int64_t seq) {
  inputs_ = inputs;
  embedding_.forward(inputs, x_[0]);
  for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i]->forward(engine, x_[i], x_[i + 1], batch, seq);
  PartTimer* timer = engine.part_timer();
  {
    PartScope scope(timer, step_part::kNorms);
    final_norm_.forward(x_.back(), normed_);
  }
  // logits (B*T x V) = normed (B*T x d) E^T (d x V)
  PartScope scope(timer, step_part::kLogits);
  const int64_t rows = batch * seq;
  logits_.resize({rows, config_.vocab_size});
  const Precision p = config_.precision;
  const Tensor& table = embedding_.table().value;
  engine.matmul_weight(matmul_input(p, normed_.data(), normed_.numel(), normed_bf_), Trans::No, table.data(),
                       Trans::Yes, logits_.data(), rows, config_.vocab_size, config_.d_model);
}

double LanguageModel::forward(Engine& engine, const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets,
                              int64_t batch, int64_t seq, bool need_grad) {
  run_trunk(engine, inputs, batch, seq);
  PartScope scope(engine.part_timer(), step_part::kLoss);
  return cross_entropy(logits_, targets, need_grad);  // logits_ now holds dL/dlogits if need_grad
}

void LanguageModel::logits(Engine& engine, const std::vector<int32_t>& inputs, int64_t batch, int64_t seq, Tensor& out) {
  run_trunk(engine, inputs, batch, seq);
  out = logits_;
}

void LanguageModel::backward(Engine& engine) {
  const int64_t rows = logits_.rows(), d = config_.d_model, V = config_.vocab_size;
  Parameter& table = embedding_.table();
  PartTimer* timer = engine.part_timer();
  std::optional<PartScope> scope(std::in_place, timer, step_part::kLogits);
  // dE (V x d) += dlogits^T (V x B*T) normed (B*T x d);  dnormed (B*T x d) = dlogits E
  const Precision p = config_.precision;
  const MatmulInput d_logits_in = matmul_input(p, logits_.data(), logits_.numel(), d_logits_bf_);
  engine.matmul(d_logits_in, Trans::Yes, matmul_input_again(p, normed_.data(), normed_bf_), Trans::No,
                table.grad.data(), V, d, rows, 1.0f, 1.0f);
  d_normed_.resize({rows, d});
  engine.matmul_weight(d_logits_in, Trans::No, table.value.data(), Trans::No, d_normed_.data(), rows, d, V);
  scope.emplace(timer, step_part::kNorms);
  final_norm_.backward(d_normed_, d_x_a_, false);
  scope.reset();
  for (size_t i = blocks_.size(); i-- > 0;) {
    blocks_[i]->backward(engine, d_x_a_, d_x_b_);
    std::swap(d_x_a_, d_x_b_);
  }
  embedding_.backward(inputs_, d_x_a_);
}

}  // namespace tg
