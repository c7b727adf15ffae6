// What a run directory holds decides how a run starts there: a directory whose
// latest.h5 is gone but whose ckpt_* files remain resumes from the newest sound one,
// and a fresh start there is refused instead of overwriting them; a resume needs the
// metrics rows its checkpoint counted on, and a fresh start never replaces an earlier
// run's metrics; the temporary files killed writes left are removed with the lock.
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

namespace {
// The state latest.h5 of a run directory holds.
TrainState latest_state(const std::string& run) {
  TrainState state;
  load_model(run + "/latest.h5", &state);
  return state;
}

// A command refused with exit 2 and one line, the directory untouched; returns the
// line without the test's directory.
std::string refused_untouched(const std::vector<std::string>& args, const std::string& run, const TempDir& dir) {
  const auto before = contents(run);
  const ProcessResult r = run_tokengrow(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(contents(run) == before);
  return without_dir(r.err, dir);
}

// The run killed while making its 10th checkpoint (step 9): latest.h5 is at step 8
// and metrics.journal holds the rows of steps 0, 4 and 8 (log_every 4).
void train_until_step_8(const RunSetup& s, const std::string& run) {
  ProcessOptions kill;
  kill.env = {{"TOKENGROW_CRASH_AT", "checkpoint.model_written:10"}};
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", run, "--threads", "2"}, kill).killed_by_us());
  REQUIRE(latest_state(run).step == 8);
  std::vector<int64_t> steps;
  for (const MetricsRow& row : MetricsLog(run + "/metrics.h5").read()) steps.push_back(row.step);
  REQUIRE(steps == std::vector<int64_t>{0, 4, 8});
}
}  // namespace

TEST_CASE("A resume whose metrics log does not reach its checkpoint's rows is refused, naming the file and the "
          "missing steps",
          "[faults][resume]") {
  RunSetup s("metrics_gap", 12);
  const std::string ref = s.run_dir("ref"), run = s.run_dir("run");
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", ref, "--threads", "2"}).exit_code == 0);
  train_until_step_8(s, run);
  const std::string journal = run + "/metrics.journal";
  const std::string whole = testing::read_file(journal);
  const size_t record = (whole.size() - kJournalHeaderBytes) / 3;
  const std::vector<std::string> resume = {"train", "--resume", run, "--threads", "2"};

  write_file(journal, whole.substr(0, whole.size() - record));  // cut short by its last row
  const std::string cut = refused_untouched(resume, run, s.dir);
  REQUIRE(cut == "error: run/metrics.journal: ends at step 4, but run/latest.h5 (step 8) logged rows up to step 8: "
                 "the rows after step 4 up to step 8 are missing; restore the file, or start the run again with "
                 "another --out");
  std::string damaged = whole;
  damaged[whole.size() - record / 2] ^= 0x10;  // the last row's record fails its checksum
  write_file(journal, damaged);
  const std::string bad_end = refused_untouched(resume, run, s.dir);
  REQUIRE(bad_end.find("run/metrics.journal: ends at step 4 (its last record is cut short or damaged") !=
          std::string::npos);
  fs::remove(journal);
  const std::string deleted = refused_untouched(resume, run, s.dir);
  REQUIRE(deleted == "error: run/metrics.h5: missing (as is run/metrics.journal), but run/latest.h5 (step 8) logged "
                     "rows up to step 8; restore the file, or start the run again with another --out");

  // With its log restored the run resumes, and ends as the uninterrupted one did.
  write_file(journal, whole);
  REQUIRE(run_tokengrow(resume).exit_code == 0);
  require_same_checkpoint(ref + "/latest.h5", run + "/latest.h5");
  require_same_metrics(ref + "/metrics.h5", run + "/metrics.h5");
  // A finished run's metrics.h5 deleted, the run then extended.
  fs::remove(run + "/metrics.h5");
  const std::string finished =
      refused_untouched({"train", "--resume", run, "--steps", "16", "--threads", "2"}, run, s.dir);
  REQUIRE(finished.find("error: run/metrics.h5: missing (as is run/metrics.journal), but run/latest.h5 (step 12) "
                        "logged rows up to step 12") == 0);
  record_row("D3", "run directory",
             "`train --resume` of a run (latest.h5 at step 8, rows at steps 0, 4, 8) whose metrics.journal was cut "
             "short by its last row, whose last row's record was damaged, or which was deleted; and of a finished "
             "run whose metrics.h5 was deleted, with `--steps 16` (each exited 0, the log then starting at the "
             "checkpoint's step)",
             "each refused, exit 2, every file untouched: `" + cut + "`; `" + bad_end + "`; `" + deleted +
                 "`; the same for the finished run (step 12); with the journal restored the resume ended with the "
                 "uninterrupted run's checkpoints and metrics, bit for bit");
}

TEST_CASE("A fresh train is refused a directory holding an earlier run's metrics without checkpoints, and starts "
          "over after a start killed before its first checkpoint",
          "[faults][resume]") {
  RunSetup s("metrics_left", 12);
  const std::string finished = s.run_dir("finished"), killed = s.run_dir("killed"), early = s.run_dir("early");
  const std::vector<std::string> fresh = {"train", "--config", s.config, "--out"};
  auto train_in = [&](const std::string& run) {
    std::vector<std::string> args = fresh;
    for (const std::string& more : {run, std::string("--threads"), std::string("2")}) args.push_back(more);
    return args;
  };
  auto remove_checkpoints = [](const std::string& run) {
    for (const auto& entry : fs::directory_iterator(run))
      if (entry.path().extension() == ".h5" && entry.path().filename() != "metrics.h5") fs::remove(entry.path());
  };
  REQUIRE(run_tokengrow(train_in(finished)).exit_code == 0);
  remove_checkpoints(finished);  // deleted to save space
  const std::string of_finished = refused_untouched(train_in(finished), finished, s.dir);
  REQUIRE(of_finished == "error: finished/metrics.h5: the metrics of an earlier run (4 rows, steps 0 to 12), with "
                         "no checkpoint left to resume it from; move the file away or choose another --out");
  train_until_step_8(s, killed);
  remove_checkpoints(killed);
  const std::string of_killed = refused_untouched(train_in(killed), killed, s.dir);
  REQUIRE(of_killed == "error: killed/metrics.journal: the metrics of an earlier run (3 rows, steps 0 to 8), with "
                       "no checkpoint left to resume it from; move the file away or choose another --out");

  // Killed while making its first checkpoint: a journal of its first row, which the same command replaces.
  ProcessOptions kill;
  kill.env = {{"TOKENGROW_CRASH_AT", "checkpoint.model_written:1"}};
  REQUIRE(run_tokengrow(train_in(early), kill).killed_by_us());
  REQUIRE(MetricsLog(early + "/metrics.h5").read().size() == 1);
  REQUIRE(run_tokengrow(train_in(early)).exit_code == 0);
  require_same_metrics(finished + "/metrics.h5", early + "/metrics.h5");
  record_row("D4", "run directory",
             "a fresh `train` into a directory whose checkpoints were deleted, holding a finished run's metrics.h5, "
             "or the metrics.journal of a run killed at step 9 (metrics.h5 was replaced, exit 0)",
             "refused, exit 2, every file untouched: `" + of_finished + "`; `" + of_killed +
                 "`; a run killed while making its first checkpoint (a journal of one row) was started over by "
                 "the same command and ended with the metrics of the uninterrupted run");
}

TEST_CASE("Temporary files a kill left mid-write are removed when train or experiment next locks the directory",
          "[faults][kill]") {
  RunSetup s("leftover_temp_files", 12);
  auto temp_files_under = [](const std::string& dir) {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.path().extension() == ".tmp") found.push_back(entry.path().string());
    std::sort(found.begin(), found.end());
    return found;
  };
  const std::string run = s.run_dir("run");
  ProcessOptions kill;
  kill.env = {{"TOKENGROW_CRASH_AT", "write.half_written:3"}};  // half of ckpt_1.h5 written
  REQUIRE(run_tokengrow({"train", "--config", s.config, "--out", run, "--threads", "2"}, kill).killed_by_us());
  const std::vector<std::string> left = temp_files_under(run);
  REQUIRE(left.size() == 1);
  REQUIRE(fs::path(left[0]).filename().string().rfind("ckpt_1.h5.", 0) == 0);
  // Names that are not the tool's temporary files stay.
  const std::vector<std::string> others = {run + "/notes.tmp", run + "/ckpt_1.h5.tmp", run + "/ckpt_1.h5.ABCDEF.tmp"};
  for (const std::string& other : others) write_file(other, "a user's file");
  const ProcessResult resumed = run_tokengrow({"train", "--resume", run, "--threads", "2"});
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  std::vector<std::string> expected = others;
  std::sort(expected.begin(), expected.end());
  REQUIRE(temp_files_under(run) == expected);
  const std::string said = without_dir(resumed.out.substr(0, resumed.out.find('\n')), s.dir);
  REQUIRE(said == "removed 1 temporary file left by an interrupted write: " + without_dir(left[0], s.dir));

  // An experiment killed half-way through its first write, then its second: each
  // re-run removes what the kill before it left, in the experiment's or a run's directory.
  write_file(s.dir.file("e.json"), one_recipe_experiment(s.data, 10, 1280, 1));
  const std::string exp = s.dir.file("exp");
  const std::vector<std::string> experiment = {"experiment", s.dir.file("e.json"), "--out", exp, "--threads", "2"};
  std::vector<std::string> killed_left;
  for (int nth : {1, 2}) {
    kill.env = {{"TOKENGROW_CRASH_AT", "write.half_written:" + std::to_string(nth)}};
    REQUIRE(run_tokengrow(experiment, kill).killed_by_us());
    const std::vector<std::string> now = temp_files_under(exp);
    REQUIRE(now.size() == 1);
    REQUIRE(std::find(killed_left.begin(), killed_left.end(), now[0]) == killed_left.end());
    killed_left.push_back(now[0]);
  }
  const ProcessResult done = run_tokengrow(experiment);
  INFO(done.err);
  REQUIRE(done.exit_code == 0);
  REQUIRE(temp_files_under(exp).empty());
  // The random part of a temporary name, shown as XXXXXX.
  auto shown = [&](const std::string& ending_in_temp_name) {  // "...<6 random characters>.tmp"
    std::string text = without_dir(ending_in_temp_name, s.dir);
    return text.replace(text.size() - 10, 6, "XXXXXX");
  };
  record_row("D5", "run directory",
             "`train` killed half-way through writing ckpt_1.h5, and `experiment` killed half-way through its first "
             "and then its second write (each left its temporary file for good: " + shown(left[0]) +
                 ", " + shown(killed_left[0]) + ", " + shown(killed_left[1]) + ")",
             "the next `train --resume` and `experiment` removed them when they took the directory's lock "
             "(printing `" + shown(said) + "`), and left a user's notes.tmp, "
             "ckpt_1.h5.tmp and ckpt_1.h5.ABCDEF.tmp alone");
}
