// tokengrow bench: the fields it reports and how they relate (not how fast it is:
// timings live in the benchmark, never in a test), and its bad-input handling.
#include <catch2/catch.hpp>

#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/rng.h"
#include "layers/step_parts.h"
#include "model/language_model.h"
#include "cli_run.h"
#include "test_data.h"
#include "train/run_config.h"

using namespace tg;
using namespace tg::testing;

namespace {
CliResult bench(std::vector<std::string> args) {
  args.insert(args.begin(), "bench");
  return cli(std::move(args));
}

constexpr int64_t kSeq = 150;

std::string tiny_config(const std::string& model_extra = "") {
  return R"({"data": "unused.h5",
    "model": {"d_model": 32, "n_layers": 2, "n_heads": 2, "seq_len": 150, "qkv_tokens": 16, "proj_tokens": 16,
              "ffn_tokens": 64)" + model_extra + R"(},
    "train": {"steps": 10, "batch_size": 4}})";
}
// Exactly the parts bench prints (layers/step_parts.h), each of which took time, and none
// negative: a negative "other" would mean a part was timed twice (nested scopes), an extra
// part a name misspelt at a timing site.
void require_parts(const nlohmann::json& j) {
  const auto& parts = j.at("part_seconds");
  REQUIRE(parts.size() == step_part::kAll.size());
  for (std::string_view name : step_part::kAll) {
    INFO(name);
    const double s = parts.at(std::string(name));
    REQUIRE(s >= 0);
    if (name != step_part::kOther) REQUIRE(s > 0);
  }
}
}  // namespace

TEST_CASE("bench: JSON fields are present and consistent", "[bench][cli]") {
  TempDir dir("bench_json");
  write_file(dir.file("c.json"), tiny_config());
  const auto r = bench({"--config", dir.file("c.json"), "--steps", "4", "--warmup", "1", "--threads", "2", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j.at("precision") == "fp32");
  REQUIRE(j.at("batch") == 4);
  REQUIRE(j.at("seq") == kSeq);
  REQUIRE(j.at("threads") == 2);
  REQUIRE(j.at("step_seconds").size() == 4);
  const double median = j.at("median_step_s");
  REQUIRE(median > 0);
  REQUIRE(j.at("tokens_per_s").get<double>() == Approx(4 * kSeq / median));

  // Executed FLOPs are what the engine counts over every matmul of a training step of the
  // same model; the model FLOPs add the attention blocks above the diagonal (seq 150:
  // blocks of 64, 64 and 22 rows, 3 of 9 skipped), which the rate and MFU leave out.
  const RunConfig config = load_run_config(dir.file("c.json"));
  LanguageModel model(config.model);
  Rng rng(0);
  model.init(rng);
  std::vector<int32_t> tokens(4 * kSeq, 1);
  Engine engine(1);
  MatmulFlopCounter counter;
  engine.set_flop_counter(&counter);
  model.forward(engine, tokens, tokens, 4, kSeq, true);
  model.backward(engine);
  const double executed = j.at("executed_gflop_per_step"), model_gflop = j.at("model_gflop_per_step");
  REQUIRE(executed == Approx(static_cast<double>(counter.flops) / 1e9).epsilon(1e-12));
  REQUIRE(model_gflop > executed * 1.01);
  REQUIRE(j.at("achieved_gflops").get<double>() == Approx(executed / median));
  REQUIRE(j.at("peak_gflops").get<double>() > 0);
  REQUIRE(j.at("mfu").get<double>() == Approx(j.at("achieved_gflops").get<double>() / j.at("peak_gflops").get<double>()));
  REQUIRE(j.at("n_params") == model.n_params());
  REQUIRE(j.at("peak_rss_bytes").get<int64_t>() > 1 << 20);
  REQUIRE(j.at("page_faults_per_step").get<double>() >= 0);
  // Every part is reported, each took time, and none is negative: a negative "other"
  // would mean a part was timed twice (nested scopes).
  require_parts(j);
  // Training on random tokens starts near ln(vocab) = ln 256.
  REQUIRE(j.at("first_loss").get<double>() == Approx(std::log(256.0)).margin(0.1));
}

namespace {
// `tokengrow bench ... --json` in a child process: resident memory is the process's own,
// so this one's earlier tests (and malloc's reuse of what they freed) cannot blur it.
nlohmann::json bench_in_child(const std::string& config, const std::string& args) {
  const std::string command = std::string(TOKENGROW_BINARY) + " bench --config '" + config + "' --json --quiet " + args;
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  return nlohmann::json::parse(out);
}

int64_t sum_of(const nlohmann::json& parts) {
  int64_t sum = 0;
  for (const auto& [part, bytes] : parts.items()) sum += bytes.get<int64_t>();
  return sum;
}
}  // namespace

TEST_CASE("bench: memory by part finds the weights and AdamW state and the kept attention probabilities", "[bench][cli]") {
  // Two layers of 2 heads at seq 1024, batch 4: without recompute each layer keeps its
  // softmax probabilities, (batch * heads) x T x T floats = 32 MiB, for the backward.
  TempDir dir("bench_memory");
  write_file(dir.file("c.json"), R"({"data": "unused.h5",
    "model": {"d_model": 128, "n_layers": 2, "n_heads": 2, "seq_len": 1024, "qkv_tokens": 64, "proj_tokens": 64,
              "ffn_tokens": 256},
    "train": {"steps": 10, "batch_size": 4}})");
  const double kept_probs = 2.0 * (4 * 2) * 1024.0 * 1024.0 * sizeof(float);
  const auto none = bench_in_child(dir.file("c.json"), "--steps 1 --warmup 1 --skip-peak --recompute none");
  const auto attention = bench_in_child(dir.file("c.json"), "--steps 1 --warmup 1 --skip-peak --recompute attention");

  const auto& m = none.at("memory_by_part");
  // Every byte resident after the first step is in exactly one line.
  REQUIRE(m.at("runtime_bytes").get<int64_t>() + m.at("model_and_optimizer_bytes").get<int64_t>() +
              sum_of(m.at("forward_bytes")) + sum_of(m.at("backward_bytes")) +
              m.at("optimizer_step_bytes").get<int64_t>() ==
          m.at("after_first_step_bytes").get<int64_t>());
  // The kernel's resident counters are approximate (per-CPU batches of pages): a reading,
  // and so a line, is good to about 1 MiB (docs/bench.md).
  constexpr double kCounterSlack = 1 << 20;
  REQUIRE(m.at("after_first_step_bytes").get<double>() <= none.at("peak_rss_bytes").get<double>() + kCounterSlack);
  // Weights, gradients and both moments, zeroed when made: 16 bytes per parameter
  // (AddressSanitizer's shadow adds up to an eighth).
  const double state = 16.0 * none.at("n_params").get<double>();
  REQUIRE(m.at("model_and_optimizer_bytes").get<double>() >= state - kCounterSlack);
  REQUIRE(m.at("model_and_optimizer_bytes").get<double>() <= 1.125 * state + (2 << 20));
  // The forward's attention part holds the probabilities under none, not under attention.
  const double attention_none = m.at("forward_bytes").at("attention");
  const double attention_recomputed = attention.at("memory_by_part").at("forward_bytes").at("attention");
  INFO("forward attention bytes: none " << attention_none << ", recompute attention " << attention_recomputed);
  // recompute attention keeps a (batch * heads) x 64 x T block of them instead, shared by the layers.
  const double probs_block = (4 * 2) * 64 * 1024.0 * sizeof(float);
  REQUIRE(attention_none - attention_recomputed >= kept_probs - probs_block - kCounterSlack);
  REQUIRE(attention_recomputed < 0.5 * attention_none);

  // No warmup step, no measuring step: no breakdown.
  REQUIRE_FALSE(bench_in_child(dir.file("c.json"), "--steps 1 --warmup 0 --skip-peak").contains("memory_by_part"));
}

TEST_CASE("bench: the Transformer baseline's step has the same parts", "[bench][cli]") {
  TempDir dir("bench_transformer");
  write_file(dir.file("c.json"), tiny_config(R"(, "architecture": "transformer")"));
  const auto r = bench({"--config", dir.file("c.json"), "--steps", "2", "--warmup", "1", "--skip-peak", "--json"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  require_parts(nlohmann::json::parse(r.out));
}

TEST_CASE("bench: human-readable output and --help", "[bench][cli]") {
  TempDir dir("bench_text");
  write_file(dir.file("c.json"), tiny_config());
  auto r = bench({"--config", dir.file("c.json"), "--steps", "2", "--warmup", "1", "--skip-peak"});
  REQUIRE(r.code == 0);
  INFO(r.out);
  for (const char* needle : {"tokens/s", "model GFLOP/step", "GFLOP/s executed", "peak memory", "pattention_norm",
                             "optimizer", "by the part that first took it", "weights, gradients, AdamW",
                             "16 B per parameter", "peak above it"})
    REQUIRE(r.out.find(needle) != std::string::npos);
  REQUIRE(r.out.find("MFU") == std::string::npos);  // --skip-peak
  r = bench({"--help"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("Usage") != std::string::npos);
}

TEST_CASE("bench: bad input gives one clear error and exit 2", "[bench][cli][errors]") {
  TempDir dir("bench_bad");
  write_file(dir.file("c.json"), tiny_config());
  auto expect = [](const CliResult& r, const std::string& needle) {
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 2);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.err.find(needle) != std::string::npos);
  };
  expect(bench({}), "--config is required");
  expect(bench({"--config", dir.file("c.json"), "--steps", "0"}), "--steps");
  expect(bench({"--config", dir.file("c.json"), "--threads", "-1"}), "--threads");
  expect(bench({"--config", dir.file("absent.json")}), "absent.json");
  write_file(dir.file("bad.json"), tiny_config(R"(, "d_modle": 3)"));
  expect(bench({"--config", dir.file("bad.json")}), "model.d_modle");
}
