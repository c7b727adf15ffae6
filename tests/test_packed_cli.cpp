// The packed inference path on the command line (docs/bitnet.md, "Inference: packed ternary
// weights"): export --format packed, eval and sample --packed against --ckpt, bench
// --inference, and the refusals (float checkpoint, existing output, wrong flags).
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli_run.h"
#include "test_data.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {
std::string config_text(const std::string& data, const std::string& weights) {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "qkv_tokens": 8, "proj_tokens": 8,
              "ffn_tokens": 32, "weights": ")" + weights + R"("},
    "train": {"steps": 6, "batch_size": 4, "log_every": 2, "eval_every": 3, "eval_batches": 1}})";
}

// Trains a run with the given weights; returns its latest checkpoint.
std::string train_run(const TempDir& dir, const std::string& weights) {
  write_file(dir.file(weights + ".json"), config_text(dir.file("data.h5"), weights));
  const auto r = cli({"train", "--config", dir.file(weights + ".json"), "--out", dir.file("run_" + weights), "--threads", "2"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  return dir.file("run_" + weights + "/latest.h5");
}

// Exit 2 and one line of stderr holding every needle.
void expect_error(const CliResult& r, const std::vector<std::string>& needles) {
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  for (const auto& n : needles) REQUIRE(r.err.find(n) != std::string::npos);
}

nlohmann::json json_of(const CliResult& r) {
  INFO("stdout: " << r.out << "stderr: " << r.err);
  REQUIRE(r.code == 0);
  return nlohmann::json::parse(r.out);
}
}  // namespace

TEST_CASE("CLI: export --format packed, then eval and sample --packed match --ckpt exactly", "[cli][packed]") {
  TempDir dir("cli_packed");
  write_file(dir.file("text.txt"), make_text(3, 30000).substr(0, 30000));
  REQUIRE(cli({"prepare", "--text", dir.file("text.txt"), "--out", dir.file("data.h5"), "--val-fraction", "0.1"}).code == 0);
  const std::string ckpt = train_run(dir, "ternary"), packed = dir.file("m.tgq");

  auto r = cli({"export", "--ckpt", ckpt, "--format", "packed", "--out", packed});
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("wrote " + packed) != std::string::npos);
  REQUIRE(fs::file_size(packed) < fs::file_size(ckpt));
  // Never over an existing file; the file is unchanged.
  const std::string bytes = read_file(packed);
  expect_error(cli({"export", "--ckpt", ckpt, "--format", "packed", "--out", packed}), {packed, "already exists"});
  REQUIRE(read_file(packed) == bytes);

  // The same loss to the last bit (JSON prints doubles round-trip exact).
  const auto from_ckpt = json_of(cli({"eval", "--ckpt", ckpt, "--data", dir.file("data.h5"), "--json"}));
  const auto from_packed = json_of(cli({"eval", "--packed", packed, "--data", dir.file("data.h5"), "--json"}));
  REQUIRE(from_packed["packed"] == true);
  REQUIRE(from_ckpt["packed"] == false);
  REQUIRE(from_packed["windows"] == from_ckpt["windows"]);
  REQUIRE(from_packed["loss"].get<double>() == from_ckpt["loss"].get<double>());
  REQUIRE(std::isfinite(from_packed["loss"].get<double>()));

  // Greedy sampling picks the same tokens.
  const auto s_ckpt = cli({"sample", "--ckpt", ckpt, "--prompt", "the ", "--tokens", "30", "--temperature", "0"});
  const auto s_packed = cli({"sample", "--packed", packed, "--prompt", "the ", "--tokens", "30", "--temperature", "0"});
  REQUIRE(s_ckpt.code == 0);
  REQUIRE(s_packed.code == 0);
  REQUIRE(s_packed.out == s_ckpt.out);

  // Wrong inputs: one clear line each.
  expect_error(cli({"eval", "--ckpt", ckpt, "--packed", packed, "--data", dir.file("data.h5")}),
               {"exactly one of --ckpt or --packed"});
  expect_error(cli({"sample", "--prompt", "x"}), {"exactly one of --ckpt or --packed"});
  expect_error(cli({"eval", "--packed", ckpt, "--data", dir.file("data.h5")}), {ckpt});
  expect_error(cli({"export", "--ckpt", ckpt, "--format", "int4", "--out", dir.file("x")}), {"torch or packed"});
}

TEST_CASE("CLI: export --format packed refuses a float-weight checkpoint, naming it and model.weights", "[cli][packed]") {
  TempDir dir("cli_packed_float");
  write_file(dir.file("text.txt"), make_text(4, 30000).substr(0, 30000));
  REQUIRE(cli({"prepare", "--text", dir.file("text.txt"), "--out", dir.file("data.h5"), "--val-fraction", "0.1"}).code == 0);
  const std::string ckpt = train_run(dir, "float");
  expect_error(cli({"export", "--ckpt", ckpt, "--format", "packed", "--out", dir.file("m.tgq")}),
               {ckpt, "model.weights is \"float\""});
  REQUIRE_FALSE(fs::exists(dir.file("m.tgq")));
}

TEST_CASE("CLI: bench --inference reports both forwards' tokens/s, equal losses and the file sizes", "[cli][packed][bench]") {
  TempDir dir("cli_packed_bench");
  write_file(dir.file("ternary.json"), config_text(dir.file("absent.h5"), "ternary"));
  const auto j = json_of(cli({"bench", "--config", dir.file("ternary.json"), "--inference", "--steps", "2", "--warmup",
                              "1", "--threads", "2", "--json"}));
  REQUIRE(j["inference"] == true);
  REQUIRE(j["same_loss"] == true);
  REQUIRE(j["training_tokens_per_s"].get<double>() > 0);
  REQUIRE(j["packed_tokens_per_s"].get<double>() > 0);
  REQUIRE(j["packed_forward_s"].size() == 2);
  REQUIRE(j["checkpoint_weight_bytes"].get<int64_t>() == 4 * j["n_params"].get<int64_t>());
  // 8 matrices of 8 x 16 (Q, K, V, proj keys and values: 32 bytes of levels, 32 of scales)
  // and 2 of 32 x 16 (the FFN's: 128 and 128). In a model this small the embedding and
  // HDF5's metadata are most of either file, so the file sizes are not compared here.
  REQUIRE(j["packed_level_bytes"].get<int64_t>() == 8 * (32 + 32) + 2 * (128 + 128));
  REQUIRE(j["packed_file_bytes"].get<int64_t>() > j["packed_level_bytes"].get<int64_t>());
  REQUIRE(j["checkpoint_file_bytes"].get<int64_t>() > j["checkpoint_weight_bytes"].get<int64_t>());
  const auto text = cli({"bench", "--config", dir.file("ternary.json"), "--inference", "--steps", "1", "--warmup", "0"});
  REQUIRE(text.code == 0);
  REQUIRE(text.out.find("packed int8 forward") != std::string::npos);
  REQUIRE(text.out.find("equal bit for bit") != std::string::npos);

  write_file(dir.file("float.json"), config_text(dir.file("absent.h5"), "float"));
  expect_error(cli({"bench", "--config", dir.file("float.json"), "--inference", "--steps", "1"}),
               {"model.weights is \"float\""});
}
