#include "bench/train_bench.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/memory_usage.h"
#include "core/rng.h"
#include "layers/step_parts.h"
#include "model/language_model.h"
#include "model/model_cost.h"
#include "train/adamw.h"
#include "train/gradient_reducer.h"

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

// The first step's memory, phase by phase: a memory-tracking timer splits each phase's
// resident growth by part, and "other" takes the growth in no timed part.
class FirstStepMemory {
 public:
  // Phases run back to back from the reading that ended the state's, so every byte
  // resident after the step is in exactly one line (what falls between parts: "other").
  FirstStepMemory(int64_t runtime_bytes, int64_t state_bytes) : mark_(runtime_bytes + state_bytes) {
    memory_.runtime_bytes = runtime_bytes;
    memory_.model_and_optimizer_bytes = state_bytes;
  }
  PartTimer* timer() { return &timer_; }
  void end_forward() { memory_.forward = end_phase(); }
  void end_backward() { memory_.backward = end_phase(); }
  MemoryByPart end_step() {
    memory_.after_first_step = resident_bytes();
    memory_.optimizer_step_bytes = memory_.after_first_step - mark_;
    return memory_;
  }

 private:
  MemoryByPart::PartBytes end_phase() {
    const int64_t now = resident_bytes();
    MemoryByPart::PartBytes parts;
    int64_t accounted = 0;
    for (const auto& [part, seconds] : timer_.parts()) {
      parts.emplace_back(part, timer_.resident_growth(part));
      accounted += parts.back().second;
    }
    parts.emplace_back(std::string(step_part::kOther), now - mark_ - accounted);
    timer_.reset();
    mark_ = now;
    return parts;
  }

  PartTimer timer_{/*track_memory=*/true};
  MemoryByPart memory_;
  int64_t mark_;  // resident bytes at the start of the current phase
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}
}  // namespace

BenchResult run_train_bench(Engine& engine, const RunConfig& config, const BenchOptions& options) {
  const ModelConfig& mc = config.model;
  const TrainConfig& tc = config.train;
  BenchResult result;
  const int64_t runtime_bytes = resident_bytes();
  result.batch = tc.batch_size;
  result.seq = mc.seq_len;
  const int64_t rows = result.batch * result.seq;

  LanguageModel model(mc);
  model.set_recompute(tc.recompute);
  Rng rng(options.seed);
  model.init(rng);
  AdamW optimizer(tc.adamw, model.parameters());
  std::optional<GradientReducer> reducer;
  if (options.comm && options.comm->size() > 1) {
    reducer.emplace(optimizer.params(), *options.comm, tc.deterministic_reduce);
    result.ranks = options.comm->size();
    result.reduced_bytes = reducer->bytes();
  }
  const int64_t state_bytes = resident_bytes() - runtime_bytes;
  // Every rank its own tokens (the cost does not depend on them), the same weights.
  Rng token_rng(options.seed + 1 + static_cast<uint64_t>(options.comm ? options.comm->rank() : 0));
  std::vector<double> reduce_seconds;
  result.n_params = n_params(mc);
  const StepCost micro_batch = step_cost(mc, result.batch, 1, 1);  // what one rank's step runs
  result.model_gflop_per_step = micro_batch.model_flops / 1e9;
  result.executed_gflop_per_step = micro_batch.executed_flops / 1e9;

  std::vector<int32_t> inputs(rows), targets(rows);
  PartTimer timer;
  for (std::string_view part : step_part::kAll) result.part_seconds.emplace_back(std::string(part), 0.0);
  for (int64_t step = 0; step < options.warmup_steps + options.steps; ++step) {
    const bool timed = step >= options.warmup_steps;
    // Random tokens: the cost of a step does not depend on the data.
    for (int64_t i = 0; i < rows; ++i) {
      inputs[i] = static_cast<int32_t>(token_rng.below(static_cast<uint64_t>(mc.vocab_size)));
      targets[i] = static_cast<int32_t>(token_rng.below(static_cast<uint64_t>(mc.vocab_size)));
    }
    std::optional<FirstStepMemory> memory;
    if (step == 0 && !timed) memory.emplace(runtime_bytes, state_bytes);
    timer.reset();
    engine.set_part_timer(timed ? &timer : memory ? memory->timer() : nullptr);
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t faults0 = minor_page_faults();
    model.zero_grad();
    const double loss = model.forward(engine, inputs, targets, result.batch, result.seq, true);
    if (memory) memory->end_forward();
    model.backward(engine);
    if (memory) memory->end_backward();
    if (reducer) {
      PartScope scope(engine.part_timer(), "gradient all-reduce");
      reducer->add();
      reducer->reduce(result.ranks);
      if (timed) reduce_seconds.push_back(reducer->last_reduce_seconds());
    }
    {
      PartScope scope(engine.part_timer(), step_part::kOptimizer);
      optimizer.clip_grad_norm(tc.grad_clip);
      optimizer.step(tc.lr);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    engine.set_part_timer(nullptr);
    if (memory) result.memory = memory->end_step();
    if (step == 0) result.first_loss = loss;
    result.last_loss = loss;
    if (!timed) continue;
    result.step_seconds.push_back(seconds);
    result.page_faults_per_step += static_cast<double>(minor_page_faults() - faults0) / static_cast<double>(options.steps);
    add_parts(timer, seconds, result.part_seconds);
  }
  const double n = static_cast<double>(std::max<int64_t>(options.steps, 1));
  for (auto& part : result.part_seconds) part.second /= n;
  if (!result.step_seconds.empty()) {
    result.median_step_s = median(result.step_seconds);
    result.tokens_per_s = static_cast<double>(rows * result.ranks) / result.median_step_s;
    result.achieved_gflops = result.executed_gflop_per_step / result.median_step_s;  // per rank
  }
  if (!reduce_seconds.empty()) result.median_reduce_s = median(reduce_seconds);
  return result;
}

}  // namespace tg
