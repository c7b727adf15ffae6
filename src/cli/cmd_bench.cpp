#include <algorithm>
#include <cmath>
#include <cstdio>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "bench/inference_bench.h"
#include "bench/peak_flops.h"
#include "bench/train_bench.h"
#include "bench/rank_scaling.h"
#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/error.h"
#include "core/memory_usage.h"
#include "train/run_config.h"

namespace tg {

namespace {
// bench --inference: forward-only tokens/s, training forward against packed int8 forward,
// and the file sizes (docs/bench.md, "Inference").
int report_inference_bench(Engine& engine, const RunConfig& config, const BenchOptions& bench, bool json,
                           const std::string& config_path, std::ostream& out) {
  const InferenceBenchResult r = run_inference_bench(engine, config, bench);
  const double speedup = r.packed.tokens_per_s / r.training.tokens_per_s;
  if (json) {
    out << nlohmann::json{{"config", config_path},
                          {"inference", true},
                          {"weights", to_string(config.model.weights)},
                          {"precision", to_string(config.model.precision)},
                          {"threads", engine.threads()},
                          {"batch", r.batch},
                          {"seq", r.seq},
                          {"n_params", r.n_params},
                          {"steps", bench.steps},
                          {"training_forward_s", r.training.forward_seconds},
                          {"training_median_forward_s", r.training.median_forward_s},
                          {"training_tokens_per_s", r.training.tokens_per_s},
                          {"packed_forward_s", r.packed.forward_seconds},
                          {"packed_median_forward_s", r.packed.median_forward_s},
                          {"packed_tokens_per_s", r.packed.tokens_per_s},
                          {"packed_speedup", speedup},
                          {"training_loss", r.training.loss},
                          {"packed_loss", r.packed.loss},
                          {"same_loss", r.same_loss},
                          {"checkpoint_weight_bytes", r.checkpoint_weight_bytes},
                          {"checkpoint_file_bytes", r.checkpoint_file_bytes},
                          {"packed_file_bytes", r.packed_file_bytes},
                          {"packed_level_bytes", r.packed_level_bytes}}
               .dump()
        << "\n";
    return 0;
  }
  char line[256];
  std::snprintf(line, sizeof line, "model: %ld parameters, %s weights, batch %ld x seq %ld, %s, %d threads\n",
                static_cast<long>(r.n_params), to_string(config.model.weights).c_str(), static_cast<long>(r.batch),
                static_cast<long>(r.seq), to_string(config.model.precision).c_str(), engine.threads());
  out << line;
  std::snprintf(line, sizeof line, "training forward: median %.2f ms, %.0f tokens/s\n",
                r.training.median_forward_s * 1e3, r.training.tokens_per_s);
  out << line;
  std::snprintf(line, sizeof line, "packed int8 forward: median %.2f ms, %.0f tokens/s (%.2fx)\n",
                r.packed.median_forward_s * 1e3, r.packed.tokens_per_s, speedup);
  out << line;
  out << "losses " << (r.same_loss ? "equal bit for bit" : "DIFFER") << " (" << r.training.loss << ", "
      << r.packed.loss << ")\n";
  std::snprintf(line, sizeof line,
                "bytes: float32 weights %ld, weights-only checkpoint %ld, packed file %ld (of which packed levels "
                "and scales %ld)\n",
                static_cast<long>(r.checkpoint_weight_bytes), static_cast<long>(r.checkpoint_file_bytes),
                static_cast<long>(r.packed_file_bytes), static_cast<long>(r.packed_level_bytes));
  out << line;
  return 0;
}

nlohmann::json memory_json(const MemoryByPart& m) {
  nlohmann::json forward = nlohmann::json::object(), backward = nlohmann::json::object();
  for (const auto& [part, bytes] : m.forward) forward[part] = bytes;
  for (const auto& [part, bytes] : m.backward) backward[part] = bytes;
  return {{"runtime_bytes", m.runtime_bytes},
          {"model_and_optimizer_bytes", m.model_and_optimizer_bytes},
          {"forward_bytes", forward},
          {"backward_bytes", backward},
          {"optimizer_step_bytes", m.optimizer_step_bytes},
          {"after_first_step_bytes", m.after_first_step}};
}

// "peak memory ...", then what the first step left resident by what first took it (parts
// under 0.05 MiB left out), its total, and what the peak holds beyond that.
void print_memory(std::ostream& out, int64_t peak_rss, int64_t computed_state_bytes, const BenchResult& r) {
  const double mib = 1 << 20;
  char line[256];
  std::snprintf(line, sizeof line, "peak memory %.1f MiB; %.0f page faults per step\n", peak_rss / mib,
                r.page_faults_per_step);
  out << line;
  if (!r.memory) {
    out << "  (no warmup step: no breakdown by part; bench measures it on the first warmup step)\n";
    return;
  }
  const MemoryByPart& m = *r.memory;
  auto row = [&](const char* phase, const std::string& part, int64_t bytes, bool always = false,
                 const std::string& note = "") {
    if (!always && std::abs(bytes / mib) < 0.05) return;
    std::snprintf(line, sizeof line, "  %-9s %-28s %9.1f MiB%s\n", phase, part.c_str(), bytes / mib, note.c_str());
    out << line;
  };
  out << "resident after the first step, by the part that first took it:\n";
  row("", "program, libraries, engine", m.runtime_bytes);
  char computed[64];
  std::snprintf(computed, sizeof computed, " (16 B per parameter: %.1f)", computed_state_bytes / mib);
  row("", "weights, gradients, AdamW", m.model_and_optimizer_bytes, true, computed);
  for (const auto& [part, bytes] : m.forward) row("forward", part, bytes);
  for (const auto& [part, bytes] : m.backward) row("backward", part, bytes);
  row("", "optimizer step", m.optimizer_step_bytes);
  row("", "total", m.after_first_step, true);
  // The kernel's resident counts are approximate (per-CPU batches): never print a negative.
  row("", "peak above it (freed in a step)", std::max<int64_t>(0, peak_rss - m.after_first_step), true);
}
}  // namespace

int cmd_bench(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm) {
  cxxopts::Options options("tokengrow bench",
                           "Time full training steps (forward, backward, clip, AdamW) of a config's model on "
                           "synthetic tokens: median tokens/s, model and executed FLOPs per step, executed GFLOP/s "
                           "and MFU against this CPU's measured matmul peak, peak memory, and where the time goes. "
                           "The config's data file is not read.");
  options.add_options()
      ("config", "Run config (JSON); its model and train.batch_size, lr, AdamW and clip settings are used",
       cxxopts::value<std::string>())
      ("precision", "fp32 or bf16 (overrides model.precision)", cxxopts::value<std::string>())
      ("recompute", "none, attention or block (overrides train.recompute)", cxxopts::value<std::string>())
      ("steps", "Timed steps", cxxopts::value<int64_t>()->default_value("20"))
      ("warmup", "Untimed steps before them", cxxopts::value<int64_t>()->default_value("3"))
      ("threads", "Threads (0: OMP_NUM_THREADS or all cores)", cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "Seed of the initial weights and the synthetic tokens", cxxopts::value<int64_t>()->default_value("0"))
      ("skip-peak", "Do not measure the matmul peak (no MFU)")
      ("inference", "Forward passes only of a binary/ternary config's model: the training forward against the packed "
                    "int8 forward (tokens/s), and the checkpoint and packed file sizes")
      ("ranks", "Data-parallel scaling: 1 process x N threads, 1 x 1 thread and mpirun -np N x 1 thread, "
                "one after the other, with their efficiency and the all-reduce's cost", cxxopts::value<int64_t>())
      ("json", "Print the result as one JSON object");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  const int threads = threads_flag(args, "bench");
  require_flag(args, "bench", "config");
  if (args.count("ranks")) {
    const int64_t ranks = args["ranks"].as<int64_t>();
    if (ranks < 2 || ranks > 1024) throw UserError("tokengrow bench: --ranks must be in [2, 1024], got " + std::to_string(ranks));
    if (comm.size() > 1) throw UserError("tokengrow bench: --ranks starts mpirun itself; run it as one process");
    bench_rank_scaling({args["config"].as<std::string>(), static_cast<int>(ranks), args["steps"].as<int64_t>(),
                        args["warmup"].as<int64_t>(), args.count("precision") ? args["precision"].as<std::string>() : ""},
                       out);
    return 0;
  }
  RunConfig config = load_run_config(args["config"].as<std::string>());
  if (args.count("precision")) config.model.precision = enum_flag(args, "bench", "precision", kPrecisionNames);
  if (args.count("recompute")) config.train.recompute = enum_flag(args, "bench", "recompute", kRecomputeNames);
  const bool bf16 = config.model.precision == Precision::BF16;
  BenchOptions bench;
  bench.steps = args["steps"].as<int64_t>();
  bench.warmup_steps = args["warmup"].as<int64_t>();
  const int64_t seed = args["seed"].as<int64_t>();
  if (bench.steps < 1) throw UserError("tokengrow bench: --steps must be at least 1, got " + std::to_string(bench.steps));
  if (bench.warmup_steps < 0) throw UserError("tokengrow bench: --warmup must be >= 0");
  if (seed < 0) throw UserError("tokengrow bench: --seed must be >= 0");
  bench.seed = static_cast<uint64_t>(seed);
  bench.comm = &comm;
  if (args.count("inference")) {
    if (comm.size() > 1) throw UserError("tokengrow bench: --inference runs as one process, not under mpirun");
    Engine engine(threads);
    return report_inference_bench(engine, config, bench, args.count("json") > 0, args["config"].as<std::string>(), out);
  }

  Engine engine(threads_per_rank(threads, comm, log));
  const BenchResult r = run_train_bench(engine, config, bench);
  // Read before the peak measurement, whose large matrices are not part of training.
  const int64_t peak_rss = peak_resident_bytes();
  // Weights, gradients and AdamW's two moments: four float32 per parameter, computed, to
  // set beside what r.memory measured.
  const int64_t state_bytes = 4 * static_cast<int64_t>(sizeof(float)) * r.n_params;
  const bool measure_peak = !args.count("skip-peak") && comm.size() == 1;
  if (comm.rank() != 0) return 0;  // rank 0 reports the job
  const double peak_gflops = measure_peak ? measure_peak_gflops(engine, bf16 ? MatmulType::BF16 : MatmulType::F32) : 0.0;
  const double mfu = measure_peak ? r.achieved_gflops / peak_gflops : 0.0;

  nlohmann::json parts = nlohmann::json::object();
  for (const auto& [part, seconds] : r.part_seconds) parts[part] = seconds;
  if (args.count("json")) {
    nlohmann::json j = {{"config", args["config"].as<std::string>()},
                        {"precision", to_string(config.model.precision)},
                        {"recompute", to_string(config.train.recompute)},
                        {"state_bytes", state_bytes},
                        {"threads", engine.threads()},
                        {"batch", r.batch},
                        {"seq", r.seq},
                        {"n_params", r.n_params},
                        {"steps", bench.steps},
                        {"median_step_s", r.median_step_s},
                        {"step_seconds", r.step_seconds},
                        {"tokens_per_s", r.tokens_per_s},
                        {"model_gflop_per_step", r.model_gflop_per_step},
                        {"executed_gflop_per_step", r.executed_gflop_per_step},
                        {"achieved_gflops", r.achieved_gflops},
                        {"peak_rss_bytes", peak_rss},
                        {"page_faults_per_step", r.page_faults_per_step},
                        {"first_loss", r.first_loss},
                        {"last_loss", r.last_loss},
                        {"part_seconds", parts},
                        {"ranks", r.ranks},
                        {"reduced_bytes", r.reduced_bytes},
                        {"median_reduce_s", r.median_reduce_s}};
    if (r.memory) j["memory_by_part"] = memory_json(*r.memory);
    if (measure_peak) {
      j["peak_gflops"] = peak_gflops;
      j["mfu"] = mfu;
    }
    out << j.dump() << "\n";
    return 0;
  }
  char line[256];
  std::snprintf(line, sizeof line, "model: %ld parameters, batch %ld x seq %ld, %s, recompute %s, %d threads\n",
                static_cast<long>(r.n_params), static_cast<long>(r.batch), static_cast<long>(r.seq),
                to_string(config.model.precision).c_str(), to_string(config.train.recompute).c_str(), engine.threads());
  out << line;
  std::snprintf(line, sizeof line, "%ld steps: median %.1f ms/step, %.0f tokens/s\n", static_cast<long>(bench.steps),
                r.median_step_s * 1e3, r.tokens_per_s);
  out << line;
  // Model FLOPs are the accounting unit; the rate and MFU count only what the matmuls run.
  std::snprintf(line, sizeof line, "%.2f model GFLOP/step, %.2f executed: %.1f GFLOP/s executed\n",
                r.model_gflop_per_step, r.executed_gflop_per_step, r.achieved_gflops);
  out << line;
  if (measure_peak) {
    std::snprintf(line, sizeof line, "matmul peak %.1f GFLOP/s (%s): MFU %.1f%% (executed FLOPs)\n", peak_gflops,
                  bf16 ? "bf16 inputs" : "fp32", 100.0 * mfu);
    out << line;
  }
  if (r.ranks > 1) {
    std::snprintf(line, sizeof line, "%d ranks: tokens/s counts every rank's batch; all-reduce of %.1f MB, median %.1f ms\n",
                  r.ranks, static_cast<double>(r.reduced_bytes) / 1e6, r.median_reduce_s * 1e3);
    out << line;
  }
  print_memory(out, peak_rss, state_bytes, r);
  out << "time per step (mean):\n";
  double total = 0;
  for (const auto& part : r.part_seconds) total += part.second;
  for (const auto& [part, seconds] : r.part_seconds) {
    std::snprintf(line, sizeof line, "  %-18s %8.2f ms  %5.1f%%\n", part.c_str(), seconds * 1e3,
                  total > 0 ? 100.0 * seconds / total : 0.0);
    out << line;
  }
  return 0;
}

}  // namespace tg
