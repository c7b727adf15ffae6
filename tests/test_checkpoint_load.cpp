// Loading crafted checkpoints and corpora: every dataset's shape is checked against
// what the config implies, and every dataset's size against what the file holds,
// before anything is allocated or read.
#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "crafted_file.h"
#include "test_data.h"
#include "train/checkpoint.h"
#include "data/corpus.h"
#include "train/run_config.h"

using namespace tg;
using namespace tg::testing;

namespace {
struct Saved {
  TempDir dir{"ckpt_load"};
  RunConfig config;
  std::string path;
  Saved() {
    config.model.vocab_size = 11;
    config.model.d_model = 8;
    config.model.n_layers = 1;
    config.model.n_heads = 2;
    config.model.seq_len = 5;
    config.model.qkv_tokens = 6;
    config.model.proj_tokens = 7;
    config.model.ffn_tokens = 12;
    LanguageModel model(config.model);
    Rng rng(1);
    model.init(rng);
    AdamW optimizer({}, model.parameters());
    path = dir.file("c.h5");
    save_checkpoint(path, config.to_json(), model, &optimizer, TrainState{});
  }
  // Loads model, optimizer and state as `train --resume` does.
  void load() const {
    LanguageModel model(config.model);
    AdamW optimizer({}, model.parameters());
    TrainState state;
    load_checkpoint(path, model, &optimizer, &state);
  }
};

std::string load_error(const Saved& s) {
  try {
    s.load();
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError");
  return "";
}
}  // namespace

TEST_CASE("Optimizer moments and step counts must have their parameter's shape", "[checkpoint][errors]") {
  const std::vector<float> small(6, 0.5f);
  const std::vector<int64_t> steps(3, 1);
  for (const std::string name : {"optimizer/exp_avg/embedding", "optimizer/exp_avg_sq/embedding"}) {
    Saved s;
    // 2 x 3 instead of 11 x 8: loaded, AdamW then read and wrote past its end.
    reseal_after(s.path, "checkpoint", [&](hid_t f) { replace_dataset(f, name, H5T_NATIVE_FLOAT, {2, 3}, small.data()); });
    const std::string m = load_error(s);
    INFO(m);
    REQUIRE(m.find("c.h5: /" + name + " has shape (2 x 3), its parameter has (11 x 8)") != std::string::npos);
  }
  Saved s;
  reseal_after(s.path, "checkpoint", [&](hid_t f) {
    replace_dataset(f, "optimizer/row_steps/embedding", H5T_NATIVE_INT64, {3}, steps.data());
  });
  REQUIRE(load_error(s).find("/optimizer/row_steps/embedding has shape (3), expected (11)") != std::string::npos);
}

TEST_CASE("Datasets with huge shapes are refused before anything is allocated", "[checkpoint][errors]") {
  // 2^36 floats (256 GiB) declared, no bytes behind them: read whole, bad_alloc.
  const hsize_t huge = hsize_t{1} << 36;
  struct Case {
    std::string name;
    hid_t type;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{{"optimizer/exp_avg/embedding", H5T_NATIVE_FLOAT, "its parameter has (11 x 8)"},
                                         {"optimizer/row_steps/final_norm/weight", H5T_NATIVE_INT64, "expected (1)"},
                                         {"state/step", H5T_NATIVE_INT64, "expected (1)"},
                                         {"state/data_rng", H5T_NATIVE_INT64, "expected (4)"},
                                         {"model/embedding", H5T_NATIVE_FLOAT, "the model expects (11 x 8)"}}) {
    Saved s;
    reseal_after(s.path, "checkpoint", [&](hid_t f) { replace_dataset(f, c.name, c.type, {huge}, nullptr); });
    const std::string m = load_error(s);
    INFO(c.name << ": " << m);
    REQUIRE(m.find("/" + c.name + " has shape (68719476736)") != std::string::npos);
    REQUIRE(m.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("A dataset declaring more values than the file holds is refused before reading", "[hdf5][errors]") {
  TempDir dir("hdf5_huge");
  const std::string corpus = make_corpus(dir, 5000);
  // A corpus whose train split declares 2^36 tokens with no storage behind them.
  reseal_after(corpus, "corpus", [](hid_t f) {
    replace_dataset(f, "train", H5T_NATIVE_UINT8, {hsize_t{1} << 36}, nullptr);
  });
  try {
    load_corpus(corpus);
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string m = e.what();
    INFO(m);
    REQUIRE(m.find("corpus.h5: /train: declares 68719476736 values (68719476736 bytes) but the file holds 0 of them") !=
            std::string::npos);
  }
  // The same through every reader of H5File.
  {
    H5File f = H5File::create(dir.file("plain.h5"));
    f.write_ints("ints", {1, 2, 3});
  }
  reseal_after(corpus, "corpus", [](hid_t f) {
    replace_dataset(f, "val", H5T_NATIVE_DOUBLE, {hsize_t{1} << 33, 4}, nullptr);
  });
  const H5File c = open_sealed(corpus, "corpus");
  REQUIRE_THROWS_WITH(c.read_doubles("val"), Catch::Contains("declares"));
  REQUIRE_THROWS_WITH(c.read_tensor("val"), Catch::Contains("declares"));
  REQUIRE_THROWS_WITH(c.read_ints("val"), Catch::Contains("declares"));
}

TEST_CASE("Checkpoints record their tokenizer, those older than the record read as bytes", "[checkpoint][tokens]") {
  Saved s;
  REQUIRE(H5File::open_read(s.path).get_attr_string("/", "tokenizer") == "bytes");
  reseal_after(s.path, "checkpoint", [](hid_t f) { REQUIRE(H5Adelete(f, "tokenizer") >= 0); });
  TrainState state;
  state.tokenizer.kind = "";
  load_model(s.path, &state);
  REQUIRE(state.tokenizer.kind == "bytes");
  REQUIRE(state.tokenizer.model.empty());
  reseal_after(s.path, "checkpoint", [](hid_t f) { set_root_string(f, "tokenizer", "words"); });
  load_model(s.path, &state);
  REQUIRE(state.tokenizer.kind == "words");  // read as recorded; eval and sample refuse it (test_cli)
  REQUIRE_THROWS_WITH(Tokenizer(state.tokenizer, s.path), Catch::Contains("unknown tokenizer \"words\""));
}
