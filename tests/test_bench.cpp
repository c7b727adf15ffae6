// tokengrow bench: the fields it reports and how they relate (not how fast it is:
// timings live in the benchmark, never in a test), and its bad-input handling.
#include <catch2/catch.hpp>

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
  auto r = bench({"--config", dir.file("c.json"), "--steps", "2", "--warmup", "0", "--skip-peak"});
  REQUIRE(r.code == 0);
  for (const char* needle : {"tokens/s", "model GFLOP/step", "GFLOP/s executed", "peak memory", "pattention_norm",
                             "optimizer"})
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
