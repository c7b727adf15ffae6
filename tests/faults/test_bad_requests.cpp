// Requests that name the wrong thing, through the real binary: eval of a checkpoint whose
// loss is not a number, train --resume with a corpus that is not there, sample asked for
// unbounded text, and scaling sweeps that cannot spend their budgets or repeat a model.
// Each is one line naming the file, flag or key, exit 2, nothing written.
#include <cmath>

#include "../crafted_file.h"
#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
// exit 2, one line "error: ..." containing `expected` (paths relative to `dir`), nothing
// on stdout; returns the line with paths relative to `dir`.
std::string require_refused(const ProcessResult& r, const std::string& expected, const TempDir& dir) {
  INFO("exit " << r.exit_code << ", signal " << r.signal << ", stdout: " << r.out << ", stderr: " << r.err);
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  const std::string message = without_dir(r.err, dir);
  REQUIRE(message.find(expected) != std::string::npos);
  REQUIRE(r.out.empty());
  return message;
}

// An experiment of one recipe and a scaling sweep: one-layer TokenFormers, d 16, vocab 32,
// batch 8 x seq 16, so a step of size s4 (24 tokens per layer) is 3 x (2 x 128 x 24 x 32
// + 2 x 128 x 16 x 32 + 4 x 8 x 16 x 256) = 1376256 FLOPs.
std::string scaling_experiment(const std::string& sizes, const std::string& budgets) {
  return R"({"data": "none.h5",
    "model": {"d_model": 16, "n_layers": 1, "n_heads": 2, "seq_len": 16, "vocab_size": 32},
    "train": {"batch_size": 8, "lr": 3e-3, "warmup_steps": 1}, "seeds": [0],
    "recipes": [{"name": "ref", "stages": [{"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8, "tokens": 12800}]}],
    "baselines": {"frontier_budgets": [], "stage_sizes": false, "transformer": false},
    "scaling": {"sizes": )" + sizes + R"(, "budgets": )" + budgets + "}}";
}
const std::string kSizeS4 = R"({"name": "s4", "model": {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8}})";

ProcessResult plan_of(const RunSetup& s, const std::string& experiment) {
  write_file(s.dir.file("e.json"), experiment);
  return run_tokengrow({"experiment", s.dir.file("e.json"), "--out", s.dir.file("exp"), "--plan", "--plan-steps", "0"});
}
}  // namespace

TEST_CASE("eval of a checkpoint whose loss is not finite is an error naming it, never a null loss",
          "[faults][bad_input]") {
  RunSetup s("eval_non_finite", 2);
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", s.run_dir("run")}).exit_code == 0);
  const std::string ckpt = s.run_dir("run") + "/latest.h5";
  // One NaN in the embedding, sealed again as a crafter would.
  testing::reseal_after(ckpt, "checkpoint", [&](hid_t f) {
    std::vector<float> embedding(256 * 16, 0.01f);
    embedding[5 * 16 + 3] = std::nanf("");
    testing::replace_dataset(f, "model/embedding", H5T_NATIVE_FLOAT, {256, 16}, embedding.data());
  });
  const ProcessResult r = run_tokengrow({"eval", "--ckpt", ckpt, "--data", s.data, "--json"});
  const std::string message =
      require_refused(r, "run/latest.h5: the loss on corpus.h5 (val) is NaN: parameter embedding holds NaN", s.dir);
  record_row("I4", "bad input", "`eval --json` of a checkpoint with a NaN in its embedding (sealed again): it printed "
             "`\"loss\": null` and exit 0", "exit 2, no result printed: `" + message + "`");
}

TEST_CASE("train --resume with a corpus that does not exist names the corpus, not the config",
          "[faults][bad_input]") {
  RunSetup s("resume_missing_data", 2);
  // A BPE corpus: without model.vocab_size the model's vocabulary (300) comes from it, so a
  // missing corpus made the config's model look different from the checkpoint's.
  const ProcessResult prepared = run_tokengrow({"prepare", "--text", s.dir.file("text.txt"), "--out", s.dir.file("bpe.h5"),
                                                "--tokenizer", "bpe", "--vocab-size", "300"});
  INFO(prepared.err);
  REQUIRE(prepared.exit_code == 0);
  std::string config = train_config(s.dir.file("bpe.h5"), 2);
  write_file(s.dir.file("bpe.json"), config);
  REQUIRE(run_tokengrow({"train", "--config", s.dir.file("bpe.json"), "--out", s.run_dir("run")}).exit_code == 0);
  const std::string before = testing::read_file(s.run_dir("run") + "/latest.h5");
  const ProcessResult flag = run_tokengrow({"train", "--config", s.dir.file("bpe.json"), "--resume", s.run_dir("run"),
                                            "--data", s.dir.file("missing.h5"), "--steps", "4"});
  const std::string by_flag = require_refused(flag, "missing.h5: no such file (the corpus to train on)", s.dir);
  write_file(s.dir.file("moved.json"), train_config(s.dir.file("moved.h5"), 2));
  const ProcessResult key =
      run_tokengrow({"train", "--config", s.dir.file("moved.json"), "--resume", s.run_dir("run"), "--steps", "4"});
  require_refused(key, "moved.h5: no such file (the corpus to train on)", s.dir);
  REQUIRE(testing::read_file(s.run_dir("run") + "/latest.h5") == before);
  record_row("I5", "bad input", "`train --config C --resume R --data missing.h5`, or a config whose `data` was moved, "
             "for a run on a BPE corpus (said the config's model differs from the checkpoint's)",
             "exit 2, run untouched: `" + by_flag + "`");
}

TEST_CASE("sample refuses more than its bound of tokens, and prints each token as it is drawn",
          "[faults][bad_input]") {
  RunSetup s("sample_bound", 2);
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", s.run_dir("run")}).exit_code == 0);
  const std::string ckpt = s.run_dir("run") + "/latest.h5";
  ProcessOptions bounded;
  bounded.kill_after_ms = 20000;  // an unbounded sample runs on
  const ProcessResult over = run_tokengrow({"sample", "--ckpt", ckpt, "--tokens", "1000001"}, bounded);
  const std::string message = require_refused(over, "--tokens: expected an integer in [0, 1000000], got 1000001", s.dir);
  // The largest sample, stopped after 3 s: what it drew by then is on stdout already.
  ProcessOptions stopped;
  stopped.kill_after_ms = 3000;
  const ProcessResult partial =
      run_tokengrow({"sample", "--ckpt", ckpt, "--tokens", "1000000", "--prompt", "Once", "--threads", "1"}, stopped);
  REQUIRE(partial.killed_by_us());
  INFO(partial.out.size() << " bytes printed in 3 s");
  REQUIRE(partial.out.rfind("Once", 0) == 0);
  REQUIRE(partial.out.size() > 100);
  record_row("I6", "bad input", "`sample --tokens 1000001` (no bound), and a long sample's output (held until the end)",
             "exit 2: `" + message + "`; each token is printed as it is drawn: " +
             "a 1,000,000-token sample killed after 3 s had printed the prompt and more than 100 bytes after it");
}

TEST_CASE("A scaling budget below one step of a size, or that whole steps miss by over 10%, is refused by the plan",
          "[faults][bad_input]") {
  RunSetup s("scaling_small_budget", 2);
  const ProcessResult below = plan_of(s, scaling_experiment("[" + kSizeS4 + "]", "[1e6]"));
  const std::string below_message =
      require_refused(below, "e.json: scaling: size s4 at budget 1e6 (1e+06 FLOPs): below one step of this size "
                             "(1.376e+06 FLOPs): it would train 1 step, 1.38x its budget", s.dir);
  const ProcessResult rounded = plan_of(s, scaling_experiment("[" + kSizeS4 + "]", "[2e6]"));
  const std::string rounded_message =
      require_refused(rounded, "1.45 steps of 1.376e+06 FLOPs; whole steps (1) would spend 1.376e+06 FLOPs, 31% off", s.dir);
  REQUIRE_FALSE(fs::exists(s.dir.file("exp")));
  record_row("I7", "bad input", "`experiment` with a scaling budget below one step of a size (trained one step, up to "
             "57x the budget, reported at the budget), or 1.45 steps of it",
             "exit 2 from `experiment --plan`, nothing written: `" + below_message + "`; `" + rounded_message + "`");
}

TEST_CASE("Two scaling sizes with the same model under different names are refused, naming both",
          "[faults][bad_input]") {
  RunSetup s("scaling_same_model", 2);
  // The same model once the experiment's model section is merged in and defaults filled:
  // d_model 16 is the experiment's, ffn_hidden 64 the default 4 d.
  const std::string twin = R"({"name": "s4b", "model": {"qkv_tokens": 4, "proj_tokens": 4, "ffn_tokens": 8,
                                                          "d_model": 16, "ffn_hidden": 64}})";
  const ProcessResult r = plan_of(s, scaling_experiment("[" + kSizeS4 + ", " + twin + "]", "[1e8]"));
  const std::string message = require_refused(
      r, "e.json: scaling.sizes: sizes \"s4\" and \"s4b\" are the same model; it would be trained twice", s.dir);
  REQUIRE_FALSE(fs::exists(s.dir.file("exp")));
  record_row("I8", "bad input", "`experiment` with two scaling sizes of the same model under different names (one "
             "spelling out the experiment's `d_model` and the default `ffn_hidden`): trained twice",
             "exit 2: `" + message + "`");
}
