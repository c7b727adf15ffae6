#include "bench/inference_bench.h"

#include <algorithm>
#include <chrono>

#include "core/rng.h"
#include "layers/packed_levels.h"
#include "model/language_model.h"
#include "train/checkpoint.h"
#include "inference/packed_model.h"

namespace tg {

namespace {
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

InferenceTiming time_forwards(Engine& engine, LanguageModel& model, const std::vector<int32_t>& inputs,
                              const std::vector<int32_t>& targets, int64_t batch, int64_t seq,
                              const BenchOptions& options) {
  InferenceTiming t;
  for (int64_t i = 0; i < options.warmup_steps + options.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    t.loss = model.forward(engine, inputs, targets, batch, seq, false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (i >= options.warmup_steps) t.forward_seconds.push_back(seconds);
  }
  t.median_forward_s = median(t.forward_seconds);
  t.tokens_per_s = static_cast<double>(batch * seq) / t.median_forward_s;
  return t;
}

// Packed levels and scales of every int8 weight matrix: 2 bits per level, 4 bytes per row.
int64_t packed_level_bytes_of(LanguageModel& model) {
  int64_t bytes = 0;
  for (const Int8Weight* w : model.int8_weights())
    bytes += packed_level_bytes(w->rows * w->cols) + w->rows * static_cast<int64_t>(sizeof(float));
  return bytes;
}
}  // namespace

InferenceBenchResult run_inference_bench(Engine& engine, const RunConfig& config, const BenchOptions& options) {
  const ModelConfig& mc = config.model;
  InferenceBenchResult r;
  r.batch = config.train.batch_size;
  r.seq = mc.seq_len;
  LanguageModel training(mc);
  Rng rng(options.seed);
  training.init(rng);
  r.n_params = training.n_params();
  std::vector<int32_t> inputs(static_cast<size_t>(r.batch * r.seq)), targets(inputs.size());
  for (auto& t : inputs) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.vocab_size)));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.vocab_size)));

  // Sizes first, from the float model (refuses float weights before anything is timed).
  const nlohmann::json json = config.to_json();
  const TrainState state;
  r.packed_file_bytes = static_cast<int64_t>(packed_model_bytes("bench model", json, training, state).size());
  r.checkpoint_file_bytes = static_cast<int64_t>(checkpoint_bytes("bench model", json, training, nullptr, state).size());
  r.checkpoint_weight_bytes = static_cast<int64_t>(sizeof(float)) * r.n_params;
  r.packed_level_bytes = packed_level_bytes_of(training);

  // The packed model: the same weights, levels frozen once (what a packed file loads).
  LanguageModel packed(mc);
  for (Parameter* p : training.parameters()) packed.find_parameter(p->name)->value = p->value;
  freeze_int8_weights(packed, "bench model");

  r.training = time_forwards(engine, training, inputs, targets, r.batch, r.seq, options);
  r.packed = time_forwards(engine, packed, inputs, targets, r.batch, r.seq, options);
  r.same_loss = r.training.loss == r.packed.loss;
  return r;
}

}  // namespace tg
