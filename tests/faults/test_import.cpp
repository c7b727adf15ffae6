// `tokengrow import` of hostile state_dicts through the real binary (it runs
// python/tokengrow_torch.py under Debian's python3 with torch): each is one line naming
// the file (and the key), exit 2, no checkpoint written; a pickle that asks to run code
// never runs it. The state_dicts are made here by PyTorch from a real export.
#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
// Writes the variants of DIR/M.pt that the tests import, each with M.json beside it.
const char* kMakeVariants = R"(
import os, shutil, sys, torch
d = sys.argv[1]
sd = torch.load(os.path.join(d, "M.pt"))
def save(name, obj):
    torch.save(obj, os.path.join(d, name + ".pt"))
    shutil.copy(os.path.join(d, "M.json"), os.path.join(d, name + ".json"))
def edited(key, index, value):
    x = {k: v.clone() for k, v in sd.items()}
    x[key][index] = value
    return x
save("nan", edited("sequential.0.word_embeddings.weight", (5, 2), float("nan")))
save("inf", edited("sequential.2.mlp.key_param_tokens", (0, 3), float("-inf")))
save("list", [1, 2, 3])
save("intkey", {**sd, 3: torch.zeros(2)})
class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(d, "code-ran"),))
save("code", {"sequential.0.word_embeddings.weight": RunsCode()})
open(os.path.join(d, "empty.pt"), "wb").close()
with open(os.path.join(d, "random.pt"), "wb") as f:
    f.write(bytes((i * 7919 + 13) % 256 for i in range(4096)))
for name in ("empty", "random"):
    shutil.copy(os.path.join(d, "M.json"), os.path.join(d, name + ".json"))
save("int64", {k: (v.long() if k.endswith("mlp.key_param_tokens") else v) for k, v in sd.items()})
save("float64", {k: v.double() for k, v in sd.items()})
save("float16", {k: v.half() for k, v in sd.items()})
save("float16_by_hand", {k: v.half().float() for k, v in sd.items()})
)";

struct ImportSetup {
  RunSetup s{"import_faults", 4};
  ImportSetup() {
    const ProcessResult trained = run_tokengrow({"train", "--config", s.config, "--out", s.run_dir("run")});
    INFO(trained.err);
    REQUIRE(trained.exit_code == 0);
    const ProcessResult exported = run_tokengrow({"export", "--ckpt", s.run_dir("run") + "/latest.h5", "--out", pt("M")});
    INFO(exported.err);
    REQUIRE(exported.exit_code == 0);
    const ProcessResult made = run_process({"/usr/bin/python3", "-c", kMakeVariants, s.dir.path().string()});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
  }
  std::string pt(const std::string& name) const { return s.dir.file(name + ".pt"); }
  ProcessResult import(const std::string& name) const {
    return run_tokengrow({"import", "--state-dict", pt(name), "--out", s.dir.file(name + ".h5")});
  }
};

// exit 2, one line "error: <file>: ..." containing `expected`, no checkpoint written.
std::string require_import_refused(const ImportSetup& setup, const std::string& name, const std::string& expected) {
  const ProcessResult r = setup.import(name);
  INFO(name << ": exit " << r.exit_code << ", signal " << r.signal << ", stderr: " << r.err);
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.rfind("error: " + setup.pt(name) + ": ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find(expected) != std::string::npos);
  REQUIRE_FALSE(fs::exists(setup.s.dir.file(name + ".h5")));
  return without_dir(r.err, setup.s.dir);
}
}  // namespace

// One trained model, exported once, for all three checks (each import starts PyTorch).
TEST_CASE("import refuses non-finite weights, files that are not state_dicts and dtypes other than float32 and "
          "float16/bfloat16: one line naming the file, exit 2, no code run", "[faults][import]") {
  const ImportSetup setup;
  const std::string nan = require_import_refused(setup, "nan", "sequential.0.word_embeddings.weight holds 1 non-finite");
  const std::string inf = require_import_refused(setup, "inf", "sequential.2.mlp.key_param_tokens holds 1 non-finite");
  REQUIRE(nan.find("first at (5, 2)") != std::string::npos);
  record_row("I1", "bad input", "`import` of a state_dict with a NaN in the embedding, or a -Inf in an FFN key (imported; "
             "then `eval` printed a null loss and `train` said it diverged)",
             "exit 2, no checkpoint: `" + nan + "`; `" + inf + "`");

  std::string observed;
  for (const auto& [name, expected] : std::vector<std::pair<std::string, std::string>>{
           {"list", "holds a list, not a state_dict"},
           {"empty", "the file is empty"},
           {"random", "not a PyTorch state_dict that loads as plain data"},
           {"intkey", "key 3 (int) is not a tensor name"},
           {"code", "it names posix.system, which a state_dict of tensors never does; nothing was run"}}) {
    const std::string message = require_import_refused(setup, name, expected);
    if (name == "list" || name == "code") observed += (observed.empty() ? "`" : "; `") + message + "`";
  }
  REQUIRE_FALSE(fs::exists(setup.s.dir.file("code-ran")));
  record_row("I2", "bad input", "`import` of a pickled list, an empty file, random bytes, a dict with an integer key, "
             "and a pickle whose object asks to run `os.system` (each a Python traceback, exit 1)",
             "exit 2 and one line naming the file for each, no checkpoint, the code never ran: " + observed);

  const std::string int64 =
      require_import_refused(setup, "int64", "sequential.2.mlp.key_param_tokens is int64; expected float32");
  const std::string float64 =
      require_import_refused(setup, "float64", "sequential.0.word_embeddings.weight is float64; expected float32");
  const ProcessResult half = setup.import("float16");
  INFO(half.err);
  REQUIRE(half.exit_code == 0);
  REQUIRE(half.err.rfind("warning: " + setup.pt("float16") + ": 13 float16 tensors widened to float32", 0) == 0);
  REQUIRE(std::count(half.err.begin(), half.err.end(), '\n') == 1);
  // Widened exactly: the weights of the float32 state_dict rounded to float16 and back by hand.
  REQUIRE(setup.import("float16_by_hand").exit_code == 0);
  require_same_checkpoint(setup.s.dir.file("float16.h5"), setup.s.dir.file("float16_by_hand.h5"), false);
  record_row("I3", "bad input", "`import` of a state_dict with int64, float64 or float16 tensors (each converted "
             "silently)", "int64 and float64 refused, exit 2: `" + int64 + "`; `" + float64 + "`; float16 imported, "
             "widened exactly, with `" + without_dir(half.err, setup.s.dir) + "`");
}
