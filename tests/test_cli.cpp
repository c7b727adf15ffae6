// The tokengrow command line, run in-process: every subcommand end to end, and
// each kind of bad input giving one clear error, exit code 2 and no files written.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "cli/cli.h"
#include "crafted_file.h"
#include "core/durable_file.h"
#include "cli_run.h"
#include "gzip_data.h"
#include "test_data.h"
#include "train/checkpoint.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {


// A small, valid run config as text; `model_extra`/`train_extra` splice keys in.
std::string config_text(const std::string& data, const std::string& model_extra = "",
                        const std::string& train_extra = "") {
  return R"({"data": ")" + data + R"(",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "qkv_tokens": 8, "proj_tokens": 8,
              "ffn_tokens": 32)" + model_extra + R"(},
    "train": {"steps": 6, "batch_size": 4, "log_every": 2, "eval_every": 3, "eval_batches": 1)" + train_extra + "}}";
}

// Runs `train` with a config and expects exit 2, a message containing every
// needle, and no run directory created.
void expect_train_error(const TempDir& dir, const std::string& config, std::vector<std::string> needles) {
  write_file(dir.file("bad.json"), config);
  const auto r = cli({"train", "--config", dir.file("bad.json"), "--out", dir.file("run_bad")});
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 2);
  REQUIRE(r.err.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line
  for (const auto& n : needles) REQUIRE(r.err.find(n) != std::string::npos);
  REQUIRE_FALSE(fs::exists(dir.file("run_bad")));
}

}  // namespace

TEST_CASE("CLI: prepare, train, eval, sample and inspect work end to end", "[cli]") {
  TempDir dir("cli_ok");
  write_file(dir.file("text.txt"), make_text(3, 60000).substr(0, 60000));
  auto r = cli({"prepare", "--text", dir.file("text.txt"), "--out", dir.file("data.h5"), "--val-fraction", "0.1"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("54000 train tokens") != std::string::npos);

  write_file(dir.file("c.json"), config_text(dir.file("data.h5")));
  r = cli({"train", "--config", dir.file("c.json"), "--out", dir.file("run"), "--threads", "2"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("step 6/6") != std::string::npos);
  REQUIRE(r.out.find("tok/s") != std::string::npos);
  REQUIRE(r.out.find("ETA") != std::string::npos);
  REQUIRE(r.out.find("val loss") != std::string::npos);
  for (const char* f : {"metrics.h5", "ckpt_3.h5", "ckpt_6.h5", "latest.h5"}) REQUIRE(fs::exists(dir.path() / "run" / f));

  // A second train into the same directory is refused: nothing is overwritten.
  r = cli({"train", "--config", dir.file("c.json"), "--out", dir.file("run")});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("already holds a run") != std::string::npos);
  // Resuming the finished run takes no step and says so, rather than a train loss of 0.
  r = cli({"train", "--resume", dir.file("run")});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("final train loss - (no step taken in this call)") != std::string::npos);
  REQUIRE(r.out.find("final train loss 0,") == std::string::npos);

  r = cli({"eval", "--ckpt", dir.file("run/latest.h5"), "--data", dir.file("data.h5"), "--json"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("\"ppl\"") != std::string::npos);

  // --text: 100 bytes with seq_len 16 -> 5 windows of 17 tokens, 80 predictions.
  write_file(dir.file("eval.txt"), make_text(9, 100).substr(0, 100));
  r = cli({"eval", "--ckpt", dir.file("run/latest.h5"), "--text", dir.file("eval.txt"), "--json"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("\"tokens\":80") != std::string::npos);
  REQUIRE(r.out.find("\"windows\":5") != std::string::npos);

  r = cli({"sample", "--ckpt", dir.file("run/latest.h5"), "--prompt", "the cat", "--tokens", "20", "--top-k", "5"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.rfind("the cat", 0) == 0);
  REQUIRE(r.out.size() == 7 + 20 + 1);

  // Growth targets beyond a config's limits are refused before anything is allocated or written.
  for (const auto& target : std::vector<std::vector<std::string>>{
           {"--qkv-tokens", "2000000"}, {"--factor", "1e9"}, {"--factor", "1e300"}}) {
    std::vector<std::string> args = {"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("g.h5")};
    args.insert(args.end(), target.begin(), target.end());
    const auto g = cli(args);
    INFO(target[0] << " " << target[1] << ": " << g.err);
    REQUIRE(g.code == 2);
    REQUIRE(g.err.find(target[0] == "--factor" ? "--factor" : "qkv_tokens") != std::string::npos);
    REQUIRE((g.err.find("1048576") != std::string::npos || g.err.find(">= 1") != std::string::npos));
    REQUIRE_FALSE(fs::exists(dir.file("g.h5")));
  }

  // Depth growth: identity blocks measured exact, stacked copies not; both train on as a new stage.
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("deep.h5"), "--layers", "4"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("blocks 1 -> 4") != std::string::npos);
  REQUIRE(r.out.find("): exact (measured") != std::string::npos);
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("stack.h5"), "--layers", "4",
           "--depth-init", "stack", "--qkv-tokens", "12"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("not exact") != std::string::npos);
  REQUIRE(r.out.find("depth stack: copied blocks change the function") != std::string::npos);
  r = cli({"train", "--resume", dir.file("stack.h5"), "--out", dir.file("stack_run"), "--steps", "2"});
  REQUIRE(r.code == 0);
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("both.h5"), "--factor", "2", "--layers", "3"});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("ffn 32 -> 64, blocks 1 -> 3") != std::string::npos);
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("bad.h5"), "--layers", "0"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("--layers must be a number of blocks >= 1, got 0") != std::string::npos);
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("bad.h5"), "--layers", "2000"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("n_layers: growth target 2000, but the model has 1; expected an integer in [1, 1024]") !=
          std::string::npos);
  // Width growth: measured exact (with its default noise) and trains on; a width that is not a multiple is refused.
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("wide.h5"), "--d-model", "32"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("d_model 16 -> 32") != std::string::npos);
  REQUIRE(r.out.find("): exact (measured") != std::string::npos);
  r = cli({"train", "--resume", dir.file("wide.h5"), "--out", dir.file("wide_run"), "--steps", "2"});
  REQUIRE(r.code == 0);
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("bad.h5"), "--d-model", "24"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("d_model: growth target 24, but the model has 16; expected a multiple of 16") != std::string::npos);
  REQUIRE_FALSE(fs::exists(dir.file("bad.h5")));
  r = cli({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("bad.h5"), "--layers", "4", "--depth-init",
           "stack", "--depth-position", "interleave"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("--depth-position places identity blocks") != std::string::npos);
  REQUIRE_FALSE(fs::exists(dir.file("bad.h5")));

  r = cli({"inspect", dir.file("run/latest.h5")});
  REQUIRE(r.code == 0);
  REQUIRE(r.out.find("step 6") != std::string::npos);
  REQUIRE(r.out.find("layers/0/ffn") != std::string::npos);

  for (const char* cmd : {"prepare", "train", "eval", "sample", "inspect"}) {
    r = cli({cmd, "--help"});
    REQUIRE(r.code == 0);
    REQUIRE(r.out.find("Usage") != std::string::npos);
  }
}

TEST_CASE("CLI: bad configs give one clear error naming file and key, exit 2, nothing written", "[cli][errors]") {
  TempDir dir("cli_bad");
  write_file(dir.file("text.txt"), make_text(3, 20000));
  REQUIRE(cli({"prepare", "--text", dir.file("text.txt"), "--out", dir.file("data.h5")}).code == 0);
  const std::string data = dir.file("data.h5");

  SECTION("unknown key") { expect_train_error(dir, config_text(data, R"(, "n_layer": 2)"), {"bad.json", "model.n_layer", "unknown key"}); }
  SECTION("wrong type") { expect_train_error(dir, config_text(data, "", R"(, "lr": "fast")"), {"bad.json", "train.lr", "expected a number", "\"fast\""}); }
  SECTION("out of range") { expect_train_error(dir, config_text(data, R"(, "rotary_fraction": 2)"), {"model.rotary_fraction", "[0, 1]"}); }
  SECTION("bad enum") { expect_train_error(dir, config_text(data, R"(, "normalization": "l2")"), {"model.normalization", "l2_norm_gelu"}); }
  SECTION("d not divisible by heads") {
    std::string text = config_text(data);
    text.replace(text.find("\"n_heads\": 2"), 12, "\"n_heads\": 3");
    expect_train_error(dir, text, {"bad.json", "model.n_heads", "not divisible"});
  }
  SECTION("missing required key") {
    std::string text = config_text(data);
    text.replace(text.find("\"steps\": 6, "), 12, "");
    expect_train_error(dir, text, {"train.steps", "missing"});
  }
  SECTION("not JSON") { expect_train_error(dir, "{\"data\": ", {"bad.json", "not valid JSON"}); }
  SECTION("a number beyond double") {
    expect_train_error(dir, config_text(data, "", R"(, "lr": 2e999)"), {"bad.json", "not valid JSON", "number overflow"});
  }
  SECTION("missing data file") { expect_train_error(dir, config_text(dir.file("nope.h5")), {"nope.h5", "no such file"}); }
  SECTION("data file is not HDF5") {
    write_file(dir.file("fake.h5"), "just text");
    expect_train_error(dir, config_text(dir.file("fake.h5")), {"fake.h5", "not a tokengrow corpus", "not HDF5"});
  }
  SECTION("HDF5 file that is not a corpus") {
    write_file(dir.file("good.json"), config_text(data));
    REQUIRE(cli({"train", "--config", dir.file("good.json"), "--out", dir.file("run_ok")}).code == 0);
    expect_train_error(dir, config_text(dir.file("run_ok/metrics.h5")), {"metrics.h5", "a tokengrow metrics, not a corpus"});
  }
  SECTION("corpus shorter than one sequence") {
    write_file(dir.file("short.txt"), "tiny text");
    REQUIRE(cli({"prepare", "--text", dir.file("short.txt"), "--out", dir.file("short.h5")}).code == 0);
    expect_train_error(dir, config_text(dir.file("short.h5")), {"short.h5", "fewer than one sequence"});
  }
  SECTION("a key given twice (the last would win)") {
    expect_train_error(dir, config_text(data, "", R"(, "lr": 0.001, "lr": 5)"), {"bad.json", "train.lr", "duplicate key"});
  }
  SECTION("60,000 nested objects") {
    std::string nested;
    for (int i = 0; i < 60000; ++i) nested += "{\"a\": ";
    nested += "1" + std::string(60000, '}');
    expect_train_error(dir, R"({"data": "x.h5", "model": )" + nested + "}", {"bad.json", "nested deeper than 64 levels"});
  }
  SECTION("an empty data path") { expect_train_error(dir, config_text(""), {"bad.json: data: is empty; expected the path of a corpus file"}); }
  SECTION("a NUL inside the data path") {
    expect_train_error(dir, config_text(data + "\\u0000.old"), {"bad.json: data: contains a NUL character"});
  }
  SECTION("a long unknown key is cut short") {
    expect_train_error(dir, config_text(data, ", \"" + std::string(300, 'q') + "\": 1"), {"bad.json: model.qqqq", "...: unknown key"});
    REQUIRE(cli({"train", "--config", dir.file("bad.json"), "--out", dir.file("run_bad")}).err.size() < 400);
  }
  SECTION("a directory as the config") {
    const auto r = cli({"train", "--config", dir.path().string(), "--out", dir.file("run_bad")});
    INFO(r.err);
    REQUIRE(r.code == 2);
    REQUIRE(r.err.find(dir.path().string() + ": is a directory, not a file; expected a config file") != std::string::npos);
    REQUIRE_FALSE(fs::exists(dir.file("run_bad")));
  }
  SECTION("missing config file") {
    const auto r = cli({"train", "--config", dir.file("absent.json"), "--out", dir.file("run_bad")});
    REQUIRE(r.code == 2);
    REQUIRE(r.err.find("absent.json") != std::string::npos);
  }
}

TEST_CASE("CLI: prepare reads gzip text, splits every --val-every bytes and refuses a damaged gzip", "[cli]") {
  TempDir dir("cli_prepare_gzip");
  const std::string text = make_text(4, 30000).substr(0, 30000);
  write_gzip_members(dir.file("text.dz"), {text.substr(0, 10000), text.substr(10000)});
  write_file(dir.file("more.txt"), "0123456789");
  auto r = cli({"prepare", "--text", dir.file("text.dz") + "," + dir.file("more.txt"), "--out", dir.file("d.h5"),
                "--val-fraction", "0.1", "--val-every", "4000"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  // 7 segments of 4000 bytes and one of 2000 hold out 400 each and 200, the 10-byte file 1.
  REQUIRE(r.out.find("27009 train tokens from 27009 bytes, 3001 validation tokens from 3001 bytes") != std::string::npos);
  REQUIRE(r.out.find("prepare: 0.0 of 0.0 MB read (more.txt)\n") != std::string::npos);
  const Corpus corpus = load_corpus(dir.file("d.h5"));
  REQUIRE(detokenize_bytes(corpus.val).substr(0, 400) == text.substr(3600, 400));
  REQUIRE(detokenize_bytes(corpus.val).substr(3000) == "9");

  std::string damaged = read_file(dir.file("text.dz"));
  damaged.resize(damaged.size() - 100);
  write_file(dir.file("damaged.gz"), damaged);
  r = cli({"prepare", "--text", dir.file("damaged.gz"), "--out", dir.file("e.h5")});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.rfind("error: " + dir.file("damaged.gz") + ": damaged or truncated gzip data (zlib: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE_FALSE(fs::exists(dir.file("e.h5")));
  REQUIRE(temp_files_of(dir.file("e.h5")).empty());
  r = cli({"prepare", "--text", dir.file("more.txt"), "--out", dir.file("e.h5"), "--val-every", "-1"});
  REQUIRE(r.code == 2);
  REQUIRE(r.err.find("--val-every") != std::string::npos);
}

TEST_CASE("CLI: bad flags and files for each subcommand exit 2 with a clear message", "[cli][errors]") {
  TempDir dir("cli_flags");
  auto expect = [](const CliResult& r, const std::string& needle) {
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 2);
    REQUIRE(r.err.find(needle) != std::string::npos);
  };
  expect(cli({"frobnicate"}), "unknown command");
  expect(cli({"train", "--bogus"}), "bogus");
  expect(cli({"train", "--out", "x"}), "--config is required");
  expect(cli({"prepare", "--text", dir.file("missing.txt"), "--out", dir.file("o.h5")}), "missing.txt");
  REQUIRE_FALSE(fs::exists(dir.file("o.h5")));
  REQUIRE(temp_files_of(dir.file("o.h5")).empty());
  write_file(dir.file("t.txt"), "some text");
  expect(cli({"prepare", "--text", dir.file("t.txt"), "--out", dir.file("o.h5"), "--val-fraction", "0.9"}), "--val-fraction");
  REQUIRE_FALSE(fs::exists(dir.file("o.h5")));
  write_file(dir.file("notckpt.h5"), "plain");
  expect(cli({"eval", "--ckpt", dir.file("notckpt.h5"), "--text", dir.file("t.txt")}), "not HDF5");
  REQUIRE(cli({"prepare", "--text", dir.file("t.txt"), "--out", dir.file("corpus.h5")}).code == 0);
  expect(cli({"eval", "--ckpt", dir.file("corpus.h5"), "--text", dir.file("t.txt")}), "a tokengrow corpus, not a checkpoint");
  // prepare never overwrites without --force, and never its own input.
  const std::string corpus_bytes = testing::read_file(dir.file("corpus.h5"));
  write_file(dir.file("u.txt"), "other text");
  expect(cli({"prepare", "--text", dir.file("u.txt"), "--out", dir.file("corpus.h5")}), "corpus.h5: already exists");
  REQUIRE(testing::read_file(dir.file("corpus.h5")) == corpus_bytes);
  expect(cli({"prepare", "--text", dir.file("t.txt"), "--out", dir.file("t.txt"), "--force"}), "t.txt: is also an input");
  expect(cli({"prepare", "--text", dir.file("u.txt") + "," + dir.file("t.txt"), "--out", dir.file("t.txt")}), "is also an input");
  REQUIRE(testing::read_file(dir.file("t.txt")) == "some text");
  REQUIRE(cli({"prepare", "--text", dir.file("u.txt"), "--out", dir.file("corpus.h5"), "--force"}).code == 0);
  REQUIRE(testing::read_file(dir.file("corpus.h5")) != corpus_bytes);
  expect(cli({"inspect", dir.file("absent.h5")}), "no such file");
  expect(cli({"sample", "--ckpt", dir.file("corpus.h5"), "--tokens", "-1"}), "--tokens");
  expect(cli({"eval", "--ckpt", dir.file("corpus.h5")}), "exactly one of --data or --text");
  // An empty value is named as such, not looked up as a file called "".
  expect(cli({"eval", "--ckpt", "", "--text", dir.file("t.txt")}), "tokengrow eval: --ckpt is empty");
  expect(cli({"train", "--config", dir.file("c.json"), "--out", dir.file("r"), "--data="}), "tokengrow train: --data is empty");
  // Unknown flags and unexpected arguments are echoed cut short.
  for (const auto& args : std::vector<std::vector<std::string>>{{"train", "--" + std::string(500, 'x')},
                                                               {"inspect", "a.h5", std::string(500, 'y')},
                                                               {std::string(500, 'z')}}) {
    const auto r = cli(args);
    INFO(r.err);
    REQUIRE(r.code == 2);
    REQUIRE(r.err.find("...") != std::string::npos);
    REQUIRE(r.err.substr(0, r.err.find('\n')).size() < 150);
  }
}

TEST_CASE("CLI: every flag an error asks for is listed in that command's --help", "[cli][errors]") {
  for (const char* cmd : {"prepare", "train", "eval", "sample", "inspect", "grow", "experiment", "bench"}) {
    const auto r = cli({cmd});
    INFO(cmd << ": " << r.err);
    REQUIRE(r.code == 2);
    const size_t at = r.err.find("--");
    REQUIRE(at != std::string::npos);
    const std::string flag = r.err.substr(at, r.err.find(' ', at) - at);
    const std::string help = cli({cmd, "--help"}).out;
    INFO("flag " << flag << ", help:\n" << help);
    REQUIRE(help.find(flag + " ") != std::string::npos);
  }
}

TEST_CASE("CLI: every --threads flag has train.threads' range, checked before any thread starts", "[cli][errors]") {
  TempDir dir("cli_threads");
  // Each subcommand with its required flags (the files need not exist: the thread
  // count is checked first, before anything is read or any Engine made).
  const std::vector<std::vector<std::string>> commands = {
      {"train", "--config", dir.file("c.json"), "--out", dir.file("run")},
      {"eval", "--ckpt", dir.file("c.h5"), "--data", dir.file("d.h5")},
      {"sample", "--ckpt", dir.file("c.h5")},
      {"grow", "--from", dir.file("c.h5"), "--out", dir.file("g.h5"), "--factor", "2"},
      {"experiment", dir.file("e.json"), "--out", dir.file("exp")},
      {"bench", "--config", dir.file("c.json")},
  };
  for (const auto& command : commands) {
    for (const std::string value : {"99999", "1025", "-1"}) {
      std::vector<std::string> args = command;
      args.insert(args.end(), {"--threads", value});
      const auto r = cli(args);
      INFO(command[0] << " --threads " << value << ": " << r.err);
      REQUIRE(r.code == 2);
      REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      REQUIRE(r.err.find("tokengrow " + command[0] + ": --threads: expected an integer in [0, 1024], got " + value) !=
              std::string::npos);
    }
  }
  REQUIRE(fs::is_empty(dir.path()));
}

TEST_CASE("CLI: eval and sample check token ids against the model and use the checkpoint's tokenizer",
          "[cli][errors][tokens]") {
  TempDir dir("cli_tokens");
  write_file(dir.file("text.txt"), make_text(3, 20000));
  REQUIRE(cli({"prepare", "--text", dir.file("text.txt"), "--out", dir.file("bytes.h5")}).code == 0);
  // A model with a vocabulary of 100 (ids 0..99: no lower-case letters).
  RunConfig rc;
  rc.data_path = dir.file("bytes.h5");
  rc.model.vocab_size = 100;
  rc.model.d_model = 16;
  rc.model.n_layers = 1;
  rc.model.n_heads = 2;
  rc.model.seq_len = 8;
  rc.model.qkv_tokens = rc.model.proj_tokens = 8;
  rc.model.ffn_tokens = 16;
  LanguageModel model(rc.model);
  Rng rng(3);
  model.init(rng);
  const std::string ckpt = dir.file("v100.h5");
  save_checkpoint(ckpt, rc.to_json(), model, nullptr, TrainState{});
  write_file(dir.file("upper.txt"), "THE CAT SEES THE MOON. A DOG FINDS AN APPLE.");
  write_file(dir.file("lower.txt"), "THE CAT SEES the moon. A DOG FINDS AN APPLE.");

  auto expect = [](const CliResult& r, const std::string& needle) {
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 2);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.err.find(needle) != std::string::npos);
  };
  // Byte 't' (116) would index row 116 of a 100-row embedding.
  expect(cli({"eval", "--ckpt", ckpt, "--text", dir.file("lower.txt")}),
         "lower.txt: token 116 at position 13 is outside the model's vocabulary [0, 100)");
  expect(cli({"eval", "--ckpt", ckpt, "--data", dir.file("bytes.h5")}),
         "bytes.h5: corpus vocabulary has 256 tokens but the model in " + ckpt + " has 100");
  expect(cli({"sample", "--ckpt", ckpt, "--prompt", "the"}), "--prompt: token 116 at position 0 is outside the model's vocabulary");
  REQUIRE(cli({"eval", "--ckpt", ckpt, "--text", dir.file("upper.txt")}).code == 0);
  const auto s = cli({"sample", "--ckpt", ckpt, "--prompt", "THE", "--tokens", "50"});
  REQUIRE(s.code == 0);
  REQUIRE(s.out.size() == 3 + 50 + 1);
  for (const char c : s.out.substr(0, 53)) REQUIRE(static_cast<unsigned char>(c) < 100);

  // A tokenizer this tokengrow does not know is refused, not read as bytes.
  reseal_after(ckpt, "checkpoint", [](hid_t f) { set_root_string(f, "tokenizer", "sentencepiece-32k"); });
  expect(cli({"eval", "--ckpt", ckpt, "--text", dir.file("upper.txt")}), "unknown tokenizer \"sentencepiece-32k\"");
  expect(cli({"sample", "--ckpt", ckpt, "--prompt", "THE"}), "unknown tokenizer \"sentencepiece-32k\"");
}
