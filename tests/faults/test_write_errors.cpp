// Disk full and write errors: the child runs under a file size limit
// (RLIMIT_FSIZE with SIGXFSZ ignored), so every write past the limit fails with
// EFBIG, through the same failed write(2) path as ENOSPC on a full disk.
#include "fault_fixtures.h"

using namespace tg;
using namespace tg::faults;

namespace {
bool has_temporary_files(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".tmp") return true;
  return false;
}

// One line, "error: <file>: ...", exit code 2.
void require_one_line_error(const ProcessResult& r, const std::string& file_fragment) {
  INFO("stderr: " << r.err);
  REQUIRE(r.signal == 0);
  REQUIRE(r.exit_code == 2);
  REQUIRE(r.err.rfind("error: ", 0) == 0);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find(file_fragment) != std::string::npos);
}
}  // namespace

TEST_CASE("A write error while training: clear error, exit 2, the previous checkpoint intact, resume exact",
          "[faults][disk]") {
  RunSetup s("write_error_train", 10);
  const std::string ref = s.run_dir("ref"), run = s.run_dir("run");
  for (const std::string& dir : {ref, run}) {
    const ProcessResult r = run_tokengrow(train_or_resume(s, dir));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  const std::string before = testing::read_file(run + "/latest.h5");
  const std::vector<std::string> more = {"train", "--resume", run, "--steps", "20"};

  ProcessOptions full;
  full.file_size_limit = 4096;  // smaller than any checkpoint or metrics file of this run
  const ProcessResult r = run_tokengrow(more, full);
  require_one_line_error(r, run + "/");
  REQUIRE(r.err.find("disk full") != std::string::npos);
  REQUIRE(testing::read_file(run + "/latest.h5") == before);
  REQUIRE_FALSE(has_temporary_files(run));
  require_every_file_sound(run);

  // With room again, the same command continues exactly.
  const ProcessResult ok = run_tokengrow(more);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  REQUIRE(run_tokengrow({"train", "--resume", ref, "--steps", "20"}).exit_code == 0);
  require_same_checkpoint(ref + "/latest.h5", run + "/latest.h5");
  require_same_metrics(ref + "/metrics.h5", run + "/metrics.h5");
  record_row("W1", "disk full", "`train --resume` with every write failing (file size limit: EFBIG, as ENOSPC)",
             "one line `" + without_dir(r.err, s.dir) +
                 "`, exit 2; latest.h5 byte-identical to before, no temporary file left; the same command with "
                 "room again continued bit for bit");
}

TEST_CASE("A write error while preparing a corpus or growing leaves no output and the old file intact",
          "[faults][disk]") {
  TempDir dir("write_error_prepare");
  write_file(dir.file("text.txt"), testing::make_text(3, 50000));
  const std::vector<std::string> prepare = {"prepare", "--text", dir.file("text.txt"), "--out", dir.file("d.h5")};
  ProcessOptions full;
  full.file_size_limit = 8192;
  ProcessResult r = run_tokengrow(prepare, full);
  require_one_line_error(r, dir.file("d.h5"));
  REQUIRE_FALSE(fs::exists(dir.file("d.h5")));
  REQUIRE_FALSE(has_temporary_files(dir.path().string()));

  // Replacing an existing corpus (--force): the old one survives a failed write.
  REQUIRE(run_tokengrow(prepare).exit_code == 0);
  const std::string before = testing::read_file(dir.file("d.h5"));
  std::vector<std::string> replace = prepare;
  replace.push_back("--force");
  r = run_tokengrow(replace, full);
  require_one_line_error(r, dir.file("d.h5"));
  REQUIRE(testing::read_file(dir.file("d.h5")) == before);
  REQUIRE_FALSE(has_temporary_files(dir.path().string()));
  const std::string prepare_error = without_dir(r.err, dir);

  write_file(dir.file("run.json"), train_config(dir.file("d.h5"), 2));
  REQUIRE(run_tokengrow({"train", "--config", dir.file("run.json"), "--out", dir.file("run")}).exit_code == 0);
  r = run_tokengrow({"grow", "--from", dir.file("run/latest.h5"), "--out", dir.file("g.h5"), "--factor", "2"}, full);
  require_one_line_error(r, dir.file("g.h5"));
  REQUIRE_FALSE(fs::exists(dir.file("g.h5")));
  REQUIRE_FALSE(has_temporary_files(dir.path().string()));
  record_row("W2", "disk full", "`prepare --force` over an existing corpus, and `grow`, with every write failing",
             "one line (`" + prepare_error + "`), exit 2; the existing corpus byte-identical, no output and no "
             "temporary file left");
}
