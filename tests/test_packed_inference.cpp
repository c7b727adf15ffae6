// Packed model files (docs/bitnet.md, "Inference: packed ternary weights"): a packed
// file's model against the training-time quantised forward bit for bit, packing on load,
// and the refusals (float weights, existing outputs, damaged, truncated, crafted files).
// The kernels themselves: test_packed_kernels.cpp.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "bf16_support.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "crafted_file.h"
#include "growth_fixture.h"
#include "layers/packed_levels.h"
#include "test_data.h"
#include "train/checkpoint.h"
#include "inference/packed_model.h"

using namespace tg;
using namespace tg::testing;

namespace {
constexpr WeightFormat kPackable[] = {WeightFormat::Ternary, WeightFormat::Binary};

// A model of `arch` with `format` weights after two AdamW steps (so the weights are not
// the initial draw), at `precision`, wider than the growth fixture's so that 8-bit
// rounding and several parameter tokens per row matter.
Fixture trained_fixture(Engine& engine, Architecture arch, WeightFormat format, Precision precision) {
  Fixture f = make_fixture(engine, arch, PattentionNorm::L2NormGelu, {}, format);
  f.optimizer.reset();  // it points into the model replaced below
  f.config.precision = precision;
  f.config.d_model = 24;
  f.config.qkv_tokens = 17;
  f.config.ffn_tokens = 33;
  f.config.ffn_hidden = 37;
  f.config.init_std = 0.1;
  f.model = std::make_unique<LanguageModel>(f.config);
  Rng rng(11);
  f.model->init(rng);
  AdamW adam(AdamWConfig{}, f.model->parameters());
  for (int step = 0; step < 2; ++step) {
    f.model->zero_grad();
    f.model->forward(engine, f.inputs, f.targets, Fixture::kBatch, Fixture::kSeq, true);
    f.model->backward(engine);
    adam.step(1e-2);
  }
  return f;
}

// Writes the packed file of fixture `f` to `path`.
void write_packed(const Fixture& f, const std::string& path) {
  TrainState state;
  const std::vector<char> bytes = packed_model_bytes(path, RunConfig{"", f.config, {}, {}}.to_json(), *f.model, state);
  write_file_durably(path, std::string_view(bytes.data(), bytes.size()), Publish::Exclusive);
}

// Expects load_packed_model(path) to throw one UserError holding every needle.
void expect_load_error(const std::string& path, const std::vector<std::string>& needles) {
  try {
    load_packed_model(path);
    FAIL("loaded " << path);
  } catch (const UserError& e) {
    const std::string what = e.what();
    INFO(what);
    REQUIRE(what.find('\n') == std::string::npos);
    for (const auto& n : needles) REQUIRE(what.find(n) != std::string::npos);
  }
}
}  // namespace

TEST_CASE("A packed model's logits equal the training-time quantised forward bit for bit", "[packed][model]") {
  Engine engine(2);
  std::vector<Precision> precisions = {Precision::FP32};
  if (bf16_runs_here(engine)) precisions.push_back(Precision::BF16);
  TempDir dir("packed_model");
  int file = 0;
  for (WeightFormat format : kPackable)
    for (Architecture arch : {Architecture::TokenFormer, Architecture::Transformer})
      for (Precision precision : precisions) {
        DYNAMIC_SECTION(to_string(format) << " " << to_string(arch) << " " << to_string(precision)) {
          Fixture f = trained_fixture(engine, arch, format, precision);
          const Tensor expected = logits_of(engine, *f.model, f);
          const double expected_loss = f.model->forward(engine, f.inputs, f.targets, Fixture::kBatch, Fixture::kSeq, false);

          const std::string path = dir.file("m" + std::to_string(file++) + ".tgq");
          write_packed(f, path);
          TrainState state;
          auto packed = load_packed_model(path, &state);
          // Every mapping's matrices are int8 now, their float copies gone.
          const std::vector<Int8Weight*> weights = packed->int8_weights();
          REQUIRE(weights.size() == static_cast<size_t>(arch == Architecture::TokenFormer ? 10 * f.config.n_layers
                                                                                           : 6 * f.config.n_layers));
          for (const Int8Weight* w : weights) {
            REQUIRE(w->frozen);
            REQUIRE(packed->find_parameter(w->name)->value.numel() == 0);
          }
          const Tensor got = logits_of(engine, *packed, f);
          REQUIRE(same_bits(expected, got));
          REQUIRE(packed->forward(engine, f.inputs, f.targets, Fixture::kBatch, Fixture::kSeq, false) == expected_loss);
          REQUIRE_THROWS_AS(packed->backward(engine), std::logic_error);  // forward only

          // The test can fail: one level flipped in the file's model changes the logits.
          Int8Weight* first = weights.front();
          first->levels[0] = static_cast<int8_t>(first->levels[0] == 1 ? -1 : 1);
          REQUIRE_FALSE(same_bits(expected, logits_of(engine, *packed, f)));
        }
      }
}

TEST_CASE("Packing on load (freeze_int8_weights) gives the training forward's logits and refuses float weights",
          "[packed][model]") {
  Engine engine(2);
  Fixture f = trained_fixture(engine, Architecture::TokenFormer, WeightFormat::Ternary, Precision::FP32);
  const Tensor expected = logits_of(engine, *f.model, f);
  freeze_int8_weights(*f.model, "fixture");
  REQUIRE(same_bits(expected, logits_of(engine, *f.model, f)));

  Fixture float_model = trained_fixture(engine, Architecture::TokenFormer, WeightFormat::Float, Precision::FP32);
  REQUIRE_THROWS_WITH(freeze_int8_weights(*float_model.model, "c.h5"),
                      Catch::Contains("c.h5: model.weights is \"float\""));
}

TEST_CASE("Packed files: float checkpoints refused, existing outputs kept, bad files one clear error",
          "[packed][errors]") {
  Engine engine(2);
  TempDir dir("packed_errors");
  // A float-weight checkpoint: one error naming the file and model.weights, nothing written.
  Fixture float_model = trained_fixture(engine, Architecture::Transformer, WeightFormat::Float, Precision::FP32);
  const std::string float_ckpt = dir.file("float.h5");
  save_checkpoint(float_ckpt, RunConfig{"", float_model.config, {}, {}}.to_json(), *float_model.model, nullptr,
                  float_model.state);
  REQUIRE_THROWS_WITH(write_packed_model(float_ckpt, dir.file("f.tgq")),
                      Catch::Contains(float_ckpt + ": model.weights is \"float\""));
  REQUIRE_FALSE(std::filesystem::exists(dir.file("f.tgq")));
  REQUIRE(temp_files_of(dir.file("f.tgq")).empty());

  // A ternary checkpoint packs; a second write to the same name is refused, the file kept.
  Fixture f = trained_fixture(engine, Architecture::TokenFormer, WeightFormat::Ternary, Precision::FP32);
  const std::string ckpt = dir.file("ternary.h5"), good = dir.file("good.tgq");
  save_checkpoint(ckpt, RunConfig{"", f.config, {}, {}}.to_json(), *f.model, nullptr, f.state);
  write_packed_model(ckpt, good);
  const std::string good_bytes = read_file(good);
  REQUIRE_THROWS_WITH(write_packed_model(ckpt, good), Catch::Contains("already exists"));
  REQUIRE(read_file(good) == good_bytes);
  REQUIRE(same_bits(logits_of(engine, *f.model, f), logits_of(engine, *load_packed_model(good), f)));
  // The packed file is much smaller than the weights-only checkpoint.
  REQUIRE(good_bytes.size() < read_file(ckpt).size());

  // Truncated and damaged files: caught by the seal before HDF5 reads them.
  const std::string truncated = dir.file("truncated.tgq");
  write_file(truncated, good_bytes.substr(0, good_bytes.size() - 100));
  expect_load_error(truncated, {truncated});
  const std::string flipped = dir.file("flipped.tgq");
  std::string damaged = good_bytes;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x10);
  write_file(flipped, damaged);
  expect_load_error(flipped, {flipped});
  // A checkpoint is not a packed file.
  expect_load_error(ckpt, {ckpt});

  // Crafted files with a valid seal.
  const std::string levels = "packed/layers/0/ffn/keys/levels";
  auto crafted = [&](const std::string& name, const std::function<void(hid_t)>& change) {
    const std::string path = dir.file(name);
    write_file(path, good_bytes);
    reseal_after(path, "packed_model", change);
    return path;
  };
  // A levels dataset of the wrong size (here huge in shape, with no storage behind it).
  std::string path = crafted("big.tgq", [&](hid_t file) {
    replace_dataset(file, levels, H5T_NATIVE_UINT8, {hsize_t{1} << 40}, nullptr);
  });
  expect_load_error(path, {path, "/" + levels, "has shape", "the model's config needs"});
  // The unused code 11 in the levels.
  const int64_t bytes = packed_level_bytes(f.config.ffn_tokens * f.config.d_model);
  std::vector<uint8_t> bad_codes(static_cast<size_t>(bytes), 0xFF);
  path = crafted("codes.tgq", [&](hid_t file) {
    replace_dataset(file, levels, H5T_NATIVE_UINT8, {static_cast<hsize_t>(bytes)}, bad_codes.data());
  });
  expect_load_error(path, {path, "/" + levels, "unused code 11"});
  // A negative scale.
  std::vector<float> scales(static_cast<size_t>(f.config.ffn_tokens), -1.0f);
  path = crafted("scales.tgq", [&](hid_t file) {
    replace_dataset(file, "packed/layers/0/ffn/keys/scales", H5T_NATIVE_FLOAT, {scales.size()}, scales.data());
  });
  expect_load_error(path, {path, "scales", "finite and >= 0"});
  // A config claiming far more parameters than the file can hold.
  nlohmann::json config = RunConfig{"", f.config, {}, {}}.to_json();
  config["model"]["d_model"] = 16384;
  path = crafted("config.tgq", [&](hid_t file) { set_root_string(file, "config", config.dump()); });
  expect_load_error(path, {path, "parameters, more than a file of"});
  // A config of float weights.
  config = RunConfig{"", f.config, {}, {}}.to_json();
  config["model"]["weights"] = "float";
  path = crafted("float.tgq", [&](hid_t file) { set_root_string(file, "config", config.dump()); });
  expect_load_error(path, {path, "model.weights is \"float\""});
}
