// What a run directory holds decides how a run starts there: a directory whose
// latest.h5 is gone but whose ckpt_* files remain resumes from the newest sound one,
// and a fresh start there is refused instead of overwriting them.
#include "fault_fixtures.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"

using namespace tg;
using namespace tg::faults;

namespace {
// Every file of a directory with its bytes, but the lock and train.log (to which a
// refusal is appended: the log records what was tried on the run).
std::map<std::string, std::string> contents(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename() != ".lock" && entry.path().filename() != "train.log")
      files[entry.path().filename().string()] = testing::read_file(entry.path().string());
  return files;
}

// The last line of a run's train.log, without its timestamp: "[error] ...".
std::string last_logged(const std::string& dir) {
  std::string log = testing::read_file(dir + "/train.log");
  while (!log.empty() && log.back() == '\n') log.pop_back();
  const std::string last = log.substr(log.rfind('\n') + 1);
  return last.substr(last.find("] ") + 2);
}
}  // namespace

TEST_CASE("A run directory with ckpt_* files but no latest.h5 resumes from the newest sound one, and is never "
          "started over",
          "[faults][resume]") {
  RunSetup s("no_latest", 12);
  // Keep 3 checkpoints instead of the fixture's 2 (one key: duplicate keys are refused).
  std::string text = testing::read_file(s.config);
  text.replace(text.find("\"keep_checkpoints\": 2"), 21, "\"keep_checkpoints\": 3");
  write_file(s.config, text);
  const std::string ref = s.run_dir("ref"), run = s.run_dir("run");
  for (const std::string& dir : {ref, run}) {
    const ProcessResult r = run_tokengrow({"train", "--config", s.config, "--out", dir, "--threads", "2"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  // latest.h5 lost, the newest checkpoint cut short: ckpt_10.h5 is the newest sound one.
  fs::remove(run + "/latest.h5");
  const std::string newest = testing::read_file(run + "/ckpt_12.h5");
  write_file(run + "/ckpt_12.h5", newest.substr(0, newest.size() / 2));
  fs::remove(run + "/ckpt_11.h5");

  // Starting it over would overwrite its checkpoints: refused, nothing touched.
  const auto before = contents(run);
  const ProcessResult fresh = run_tokengrow({"train", "--config", s.config, "--out", run, "--threads", "2"});
  INFO(fresh.err);
  REQUIRE(fresh.exit_code == 2);
  const std::string refusal = without_dir(fresh.err, s.dir);
  REQUIRE(refusal == "error: run: holds checkpoints but no latest.h5 (the newest sound one is run/ckpt_10.h5); "
                     "resume from it with --resume run, or choose another --out");
  REQUIRE(contents(run) == before);
  REQUIRE(without_dir(last_logged(run), s.dir) == "[error] " + refusal.substr(7));

  // --resume continues from ckpt_10.h5 and ends where the uninterrupted run did.
  const ProcessResult resumed = run_tokengrow({"train", "--resume", run, "--threads", "2"});
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  const std::string said = without_dir(resumed.out.substr(0, resumed.out.find('\n')), s.dir);
  REQUIRE(said == "resumed run/ckpt_10.h5 at step 10");
  require_every_file_sound(run);
  require_same_checkpoint(ref + "/latest.h5", run + "/latest.h5");
  require_same_checkpoint(ref + "/ckpt_12.h5", run + "/ckpt_12.h5");
  require_same_metrics(ref + "/metrics.h5", run + "/metrics.h5");
  record_row("D1", "run directory",
             "a run directory whose latest.h5 was deleted, its newest ckpt_12.h5 cut in half and ckpt_11.h5 "
             "deleted",
             "`train --config ... --out run` was refused with `" + refusal + "`, exit 2, every checkpoint and log "
             "untouched (the refusal appended to train.log); "
             "`train --resume run` printed `" + said + "` and ended with the uninterrupted run's checkpoints "
             "and metrics, bit for bit");
}

TEST_CASE("Resuming on another corpus, or on a corpus replaced under the run, is refused naming both files and "
          "checksums",
          "[faults][resume]") {
  RunSetup s("corpus_replaced", 12);
  const std::string run = s.run_dir("run");
  ProcessOptions stop_early;
  stop_early.env = {{"TOKENGROW_CRASH_AT", "publish.after_rename:6"}};  // killed after its third checkpoint
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", run, "--threads", "2"}, stop_early).killed_by_us());
  const auto before = contents(run);
  // Another corpus of the same size: the same text with one byte changed.
  std::string text = testing::read_file(s.dir.file("text.txt"));
  text[text.size() / 3] = text[text.size() / 3] == 'a' ? 'b' : 'a';
  write_file(s.dir.file("other.txt"), text);
  prepare_corpus({s.dir.file("other.txt")}, s.dir.file("other.h5"), 0.1);

  auto require_refused = [&](const std::vector<std::string>& args, const std::string& corpus) {
    const ProcessResult r = run_tokengrow(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 2);
    const std::string error = without_dir(r.err, s.dir);
    REQUIRE(error.find('\n') == std::string::npos);
    REQUIRE(error.rfind("error: " + corpus + ": not the corpus run/latest.h5 was trained on (its tokens: crc32 ", 0) == 0);
    REQUIRE(error.find("; the checkpoint recorded crc32 ") != std::string::npos);
    REQUIRE(contents(run) == before);
    REQUIRE(without_dir(last_logged(run), s.dir) == "[error] " + error.substr(7));
    return error;
  };
  const std::string other = require_refused({"train", "--resume", run, "--data", s.dir.file("other.h5")}, "other.h5");
  // The run's own corpus file replaced by the other one.
  fs::copy_file(s.dir.file("other.h5"), s.data, fs::copy_options::overwrite_existing);
  const std::string replaced = require_refused({"train", "--resume", run}, "corpus.h5");
  record_row("D2", "run directory",
             "`train --resume` with `--data` naming another corpus (one byte of the text changed), and with the "
             "run's corpus file replaced by that one",
             "both refused, exit 2, every checkpoint and log untouched (the refusal appended to train.log): `" +
                 other + "`; `" + replaced + "`");
}
