#include "bench/train_bench.h"

#include <algorithm>
#include <chrono>

#include "core/rng.h"
#include "layers/step_parts.h"
#include "model/language_model.h"
#include "model/model_cost.h"
#include "train/adamw.h"

namespace tg {

namespace {
using PartSeconds = std::vector<std::pair<std::string, double>>;

// Adds one step's part times to `sums`; "other" gets the step time no part timed.
void add_parts(const PartTimer& timer, double step_seconds, PartSeconds& sums) {
  auto sum_of = [&](std::string_view name) -> double& {
    for (auto& [part, total] : sums)
      if (part == name) return total;
    return sums.emplace_back(std::string(name), 0.0).second;
  };
  double accounted = 0;
  for (const auto& [part, seconds] : timer.parts()) {
    sum_of(part) += seconds;
    accounted += seconds;
  }
  sum_of(step_part::kOther) += step_seconds - accounted;
}
}  // namespace

BenchResult run_train_bench(Engine& engine, const RunConfig& config, const BenchOptions& options) {
  const ModelConfig& mc = config.model;
  const TrainConfig& tc = config.train;
  BenchResult result;
  result.batch = tc.batch_size;
  result.seq = mc.seq_len;
  const int64_t rows = result.batch * result.seq;

  LanguageModel model(mc);
  Rng rng(options.seed);
  model.init(rng);
  AdamW optimizer(tc.adamw, model.parameters());
  result.n_params = n_params(mc);
  result.model_gflop_per_step = 3.0 * forward_model_flops(mc, result.batch, result.seq) / 1e9;
  result.executed_gflop_per_step = 3.0 * forward_executed_flops(mc, result.batch, result.seq) / 1e9;

  std::vector<int32_t> inputs(rows), targets(rows);
  PartTimer timer;
  for (std::string_view part : step_part::kAll) result.part_seconds.emplace_back(std::string(part), 0.0);
  for (int64_t step = 0; step < options.warmup_steps + options.steps; ++step) {
    const bool timed = step >= options.warmup_steps;
    // Random tokens: the cost of a step does not depend on the data.
    for (int64_t i = 0; i < rows; ++i) {
      inputs[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.vocab_size)));
      targets[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(mc.vocab_size)));
    }
    timer.reset();
    engine.set_part_timer(timed ? &timer : nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    model.zero_grad();
    const double loss = model.forward(engine, inputs, targets, result.batch, result.seq, true);
    model.backward(engine);
    {
      PartScope scope(engine.part_timer(), step_part::kOptimizer);
      optimizer.clip_grad_norm(tc.grad_clip);
      optimizer.step(tc.lr);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    engine.set_part_timer(nullptr);
    if (step == 0) result.first_loss = loss;
    result.last_loss = loss;
    if (!timed) continue;
    result.step_seconds.push_back(seconds);
    add_parts(timer, seconds, result.part_seconds);
  }
  const double n = static_cast<double>(std::max<int64_t>(options.steps, 1));
  for (auto& part : result.part_seconds) part.second /= n;
  std::vector<double> sorted = result.step_seconds;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    const size_t mid = sorted.size() / 2;
    result.median_step_s = sorted.size() % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    result.tokens_per_s = static_cast<double>(rows) / result.median_step_s;
    result.achieved_gflops = result.executed_gflop_per_step / result.median_step_s;
  }
  return result;
}

}  // namespace tg
