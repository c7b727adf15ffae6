// Bad configs and flags through the real binary: each gives exit 2 and one line
// naming the file, key and value and what is expected; the line goes in the doc.
#include <sys/stat.h>

#include "../crafted_file.h"
#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
struct BadInput {
  std::string what;                       // the doc's description
  std::string model_extra, train_extra;   // spliced into the config (train_config keys)
  std::vector<std::string> extra_args;    // appended to the train command
  std::string expected;                   // a fragment the message must contain
};

// `"key": value` appended to the model object of train_config's JSON.
std::string with_model_key(std::string config, const std::string& extra) {
  const size_t at = config.find("\"ffn_tokens\": 32");
  return config.insert(at + std::string("\"ffn_tokens\": 32").size(), extra);
}
}  // namespace

TEST_CASE("Bad configs and flags: one line naming file, key and value, exit 2, nothing written",
          "[faults][bad_input]") {
  RunSetup s("bad_input", 4);
  const std::vector<BadInput> cases = {
      {"a misspelt key (`train.learning_rate`)", "", R"(, "learning_rate": 0.1)", {}, "unknown key"},
      {"a wrong type (`train.batch_size` as a string)", "", R"(, "batch_size": "8")", {}, "train.batch_size"},
      {"a value out of range (`train.lr` -1)", "", R"(, "lr": -1)", {}, "train.lr"},
      {"an impossible shape (`model.n_heads` 3 with d_model 16)", R"(, "n_heads": 3)", "", {}, "n_heads"},
      {"an unknown choice (`model.normalization` \"l3\")", R"(, "normalization": "l3")", "", {}, "normalization"},
      {"a bad flag value (`--steps -5`)", "", "", {"--steps", "-5"}, "--steps"},
      {"a flag that is not a number (`--threads two`)", "", "", {"--threads", "two"}, "--threads"},
  };
  std::string keys;
  int row = 1;
  for (const BadInput& c : cases) {
    std::string config = train_config(s.data, 4, c.train_extra);
    // The duplicate keys this splicing makes are themselves refused; replace instead.
    if (c.model_extra.find("n_heads") != std::string::npos) config.replace(config.find("\"n_heads\": 2"), 12, "\"n_heads\": 3");
    else if (!c.model_extra.empty()) config = with_model_key(config, c.model_extra);
    if (c.train_extra.find("batch_size") != std::string::npos) config.replace(config.find("\"batch_size\": 4, "), 17, "");
    if (c.train_extra.find("\"lr\"") != std::string::npos) config.replace(config.find("\"lr\": 3e-3, "), 12, "");
    write_file(s.dir.file("bad.json"), config);
    std::vector<std::string> args = {"train", "--config", s.dir.file("bad.json"), "--out", s.dir.file("run")};
    args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
    const ProcessResult r = run_tokengrow(args);
    INFO(c.what << ": " << r.err);
    REQUIRE(r.exit_code == 2);
    REQUIRE(r.err.rfind("error: ", 0) == 0);
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.err.find(c.expected) != std::string::npos);
    REQUIRE_FALSE(fs::exists(s.dir.file("run")));
    record_row("B" + std::to_string(row++), "bad input", "`train` with " + c.what,
               "exit 2, nothing written: `" + without_dir(r.err, s.dir) + "`");
  }
}

namespace {
// exit 2, one line "error: ..." containing `expected`, no signal, no hang.
void require_refused(const ProcessResult& r, const std::string& expected) {
  INFO("exit " << r.exit_code << ", signal " << r.signal << ", stderr: " << r.err);
  REQUIRE_FALSE(r.timed_out);
  REQUIRE(r.signal == 0);
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find(expected) != std::string::npos);
}
}  // namespace

TEST_CASE("Crafted and odd config files: refused in one line, no crash, no hang, nothing written",
          "[faults][bad_input]") {
  RunSetup s("bad_config_files", 4);
  const std::string config = train_config(s.data, 4);
  struct Case {
    std::string id, what, file, expected;
  };
  std::vector<Case> cases;
  {
    // "lr": 3e-3 given a second time, as 5: JSON readers keep the last one.
    std::string duplicate = config;
    duplicate.insert(duplicate.find("\"lr\": 3e-3") + 10, ", \"lr\": 5");
    write_file(s.dir.file("dup.json"), duplicate);
    cases.push_back({"B8", "a key given twice (`\"lr\": 3e-3, \"lr\": 5`)", "dup.json", "duplicate key"});
  }
  {
    std::string nested = config.substr(0, config.rfind('}')) + ", \"x\": ";
    for (int i = 0; i < 60000; ++i) nested += "{\"a\": ";
    nested += "1" + std::string(60000, '}') + "}";
    write_file(s.dir.file("nested.json"), nested);
    cases.push_back({"B9", "60,000 nested objects (crashed: stack overflow)", "nested.json", "nested deeper than 64"});
  }
  REQUIRE(::mkfifo(s.dir.file("fifo.json").c_str(), 0600) == 0);
  cases.push_back({"B10", "a FIFO as `--config` (hung: opened for reading, no writer)", "fifo.json", "not a regular file"});
  fs::create_directory(s.dir.file("dir.json"));
  cases.push_back({"B11", "a directory as `--config` (said \"not valid JSON\")", "dir.json", "is a directory"});
  for (const Case& c : cases) {
    ProcessOptions options;
    options.timeout_ms = 60000;
    const ProcessResult r = run_tokengrow({"train", "--config", s.dir.file(c.file), "--out", s.dir.file("run")}, options);
    INFO(c.what);
    require_refused(r, c.expected);
    REQUIRE_FALSE(fs::exists(s.dir.file("run")));
    record_row(c.id, "bad input", "`train` with " + c.what, "exit 2, nothing written: `" + without_dir(r.err, s.dir) + "`");
  }
}

TEST_CASE("Out-of-range thread counts and crafted checkpoints through the real binary: one line, exit 2, no crash",
          "[faults][bad_input]") {
  RunSetup s("bad_threads_ckpt", 2);
  const std::string run = s.run_dir("run");
  const ProcessResult trained = run_tokengrow({"train", "--config", s.config, "--out", run});
  INFO(trained.err);
  REQUIRE(trained.exit_code == 0);
  const std::string ckpt = run + "/latest.h5";

  // Every --threads flag: 99999 crashed in libgomp (SIGSEGV), 1025-5000 started that many threads.
  const std::vector<std::vector<std::string>> commands = {
      {"train", "--resume", run, "--steps", "3"},
      {"eval", "--ckpt", ckpt, "--data", s.data},
      {"sample", "--ckpt", ckpt},
      {"grow", "--from", ckpt, "--out", s.dir.file("g.h5"), "--factor", "2"},
      {"experiment", s.dir.file("absent.json"), "--out", s.dir.file("exp")},
      {"bench", "--config", s.config, "--steps", "1"},
  };
  std::string threads_message;
  for (auto args : commands) {
    args.insert(args.end(), {"--threads", "99999"});
    const ProcessResult r = run_tokengrow(args);
    INFO(args[0]);
    require_refused(r, "--threads: expected an integer in [0, 1024], got 99999");
    if (args[0] == "eval") threads_message = without_dir(r.err, s.dir);
  }
  REQUIRE_FALSE(fs::exists(s.dir.file("g.h5")));
  REQUIRE_FALSE(fs::exists(s.dir.file("exp")));
  record_row("B12", "bad input", "`--threads 99999` given to `train`, `eval`, `sample`, `grow`, `experiment` and `bench` "
             "(crashed in libgomp)", "exit 2 from each, nothing written: e.g. `" + threads_message + "`");

  // A resumable run whose latest.h5 has Adam moments (and step counts) smaller than
  // their parameter, consistent with each other (sealed again): loaded, then AdamW
  // read and wrote past their end.
  const std::string before = testing::read_file(ckpt);
  const std::vector<float> small(6, 0.0f);
  const std::vector<int64_t> steps(2, 1);
  testing::reseal_after(ckpt, "checkpoint", [&](hid_t f) {
    for (const char* moment : {"optimizer/exp_avg/embedding", "optimizer/exp_avg_sq/embedding"})
      testing::replace_dataset(f, moment, H5T_NATIVE_FLOAT, {2, 3}, small.data());
    testing::replace_dataset(f, "optimizer/row_steps/embedding", H5T_NATIVE_INT64, {2}, steps.data());
  });
  const std::string crafted = testing::read_file(ckpt);
  const ProcessResult moment = run_tokengrow({"train", "--resume", run, "--steps", "4"});
  require_refused(moment, "/optimizer/exp_avg/embedding has shape (2 x 3), its parameter has (256 x 16)");
  REQUIRE(testing::read_file(ckpt) == crafted);  // nothing rewritten
  // The same file with a moment declaring 2^36 values and no bytes behind them: bad_alloc.
  testing::write_file(ckpt, before);
  testing::reseal_after(ckpt, "checkpoint", [&](hid_t f) {
    testing::replace_dataset(f, "optimizer/exp_avg/embedding", H5T_NATIVE_FLOAT, {hsize_t{1} << 36}, nullptr);
  });
  const ProcessResult huge = run_tokengrow({"train", "--resume", run, "--steps", "4"});
  require_refused(huge, "/optimizer/exp_avg/embedding has shape (68719476736), its parameter has (256 x 16)");
  record_row("B13", "bad input", "`train --resume` of a checkpoint (sealed again after editing) whose Adam moments and "
             "step counts for the 256 x 16 embedding are 2 x 3 and 2 (loaded, then AdamW ran past them), or whose moment "
             "declares 2^36 values (bad_alloc)",
             "exit 2, checkpoint untouched: `" + without_dir(moment.err, s.dir) + "`; `" + without_dir(huge.err, s.dir) + "`");
}
