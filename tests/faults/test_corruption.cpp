// Damaged files: bits flipped, bytes overwritten and files truncated in real
// checkpoints and corpora. Every load must refuse with a UserError naming the
// file (never a crash, never a silently different model).
#include "core/rng.h"
#include "fault_fixtures.h"
#include "data/corpus.h"

using namespace tg;
using namespace tg::faults;

namespace {
struct Damage {
  std::string what;                              // for the doc row
  std::function<std::string(const std::string&, Rng&)> apply;  // good bytes -> damaged bytes
  int trials;
};

std::vector<Damage> damages() {
  return {
      {"single-bit flips at random positions",
       [](const std::string& b, Rng& rng) {
         std::string d = b;
         const size_t pos = rng.below(d.size());
         d[pos] = static_cast<char>(d[pos] ^ (1 << rng.below(8)));
         return d;
       },
       300},
      {"random 16-byte overwrites",
       [](const std::string& b, Rng& rng) {
         std::string d = b;
         const size_t pos = rng.below(d.size() - 16);
         for (size_t i = 0; i < 16; ++i) d[pos + i] = static_cast<char>(rng.below(256));
         return d;
       },
       100},
      {"truncations at random lengths",
       [](const std::string& b, Rng& rng) { return b.substr(0, rng.below(b.size())); }, 100},
  };
}

// Applies every kind of damage to `good` and requires `load` to throw a UserError
// starting with the file's path each time. Returns the doc's description.
std::string require_all_refused(const std::string& good, const std::string& damaged_path,
                                const std::function<void(const std::string&)>& load) {
  const std::string bytes = testing::read_file(good);
  Rng rng(4242);
  std::string described;
  for (const Damage& damage : damages()) {
    for (int trial = 0; trial < damage.trials; ++trial) {
      const std::string d = damage.apply(bytes, rng);
      if (d == bytes) continue;
      testing::write_file(damaged_path, d);
      INFO(damage.what << ", trial " << trial);
      try {
        load(damaged_path);
        FAIL("a damaged file loaded");
      } catch (const UserError& e) {
        REQUIRE(std::string(e.what()).rfind(damaged_path + ": ", 0) == 0);
      }
    }
    described += (described.empty() ? "" : ", ") + std::to_string(damage.trials) + " " + damage.what;
  }
  return described;
}

// The CLI's one line for a damaged file, with run-specific figures cut off.
std::string cli_error(const ProcessResult& r, const TempDir& dir) {
  INFO("stderr: " << r.err);
  REQUIRE(r.signal == 0);
  REQUIRE(r.exit_code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  std::string line = without_dir(r.err, dir);
  return line.substr(0, line.find(" ("));
}
}  // namespace

TEST_CASE("Damaged checkpoints are refused with one line naming the file, by every loader and command",
          "[faults][corruption]") {
  RunSetup s("corrupt_checkpoint", 6);
  const std::string run = s.run_dir("run");
  REQUIRE(run_tokengrow(train_or_resume(s, run)).exit_code == 0);
  const std::string good = run + "/latest.h5", damaged = s.dir.file("damaged.h5");
  const std::string described = require_all_refused(good, damaged, [](const std::string& p) { load_model(p); });

  // Through the commands: a flipped bit in the middle of the file.
  std::string bytes = testing::read_file(good);
  bytes[bytes.size() / 2] ^= 0x04;
  testing::write_file(damaged, bytes);
  const std::string eval_error =
      cli_error(run_tokengrow({"eval", "--ckpt", damaged, "--data", s.data}), s.dir);
  REQUIRE(eval_error == "error: damaged.h5: damaged: its contents do not match its checksum");
  cli_error(run_tokengrow({"inspect", damaged}), s.dir);
  cli_error(run_tokengrow({"grow", "--from", damaged, "--out", s.dir.file("g.h5"), "--factor", "2"}), s.dir);
  REQUIRE_FALSE(fs::exists(s.dir.file("g.h5")));
  // A run directory whose latest.h5 was damaged on disk: resume refuses, nothing is written.
  testing::write_file(good, bytes);
  const std::string metrics_before = testing::read_file(run + "/metrics.h5");
  const std::string resume_error = cli_error(run_tokengrow({"train", "--resume", run}), s.dir);
  REQUIRE(testing::read_file(run + "/metrics.h5") == metrics_before);
  // A truncated copy names the sizes.
  testing::write_file(damaged, bytes.substr(0, bytes.size() - 1000));
  const std::string truncated_error = cli_error(run_tokengrow({"eval", "--ckpt", damaged, "--data", s.data}), s.dir);
  REQUIRE(truncated_error.find("truncated: ") != std::string::npos);
  record_row("C1", "damaged files", "a trained checkpoint with " + described,
             "every load refused with a one-line error naming the file (checksum mismatch, truncated, or no "
             "seal), never a crash or a silently different model; `eval`, `inspect`, `grow` and `train --resume` "
             "exit 2 with e.g. `" + eval_error + "`, `" + resume_error + "`, `" + truncated_error +
                 "`; nothing written");
}

TEST_CASE("Damaged corpora are refused with one line naming the file, training writes nothing",
          "[faults][corruption]") {
  RunSetup s("corrupt_corpus", 4);
  const std::string damaged = s.dir.file("damaged_corpus.h5");
  const std::string described = require_all_refused(s.data, damaged, [](const std::string& p) { load_corpus(p); });
  std::string bytes = testing::read_file(s.data);
  bytes[bytes.size() / 3] ^= 0x40;
  testing::write_file(damaged, bytes);
  write_file(s.dir.file("bad.json"), train_config(damaged, 4));
  const std::string error =
      cli_error(run_tokengrow({"train", "--config", s.dir.file("bad.json"), "--out", s.dir.file("run")}), s.dir);
  REQUIRE_FALSE(fs::exists(s.dir.file("run")));
  record_row("C2", "damaged files", "a prepared corpus with " + described,
             "every load refused with a one-line error naming the file; `train` exits 2 with `" + error +
                 "` and creates no run directory");
}

TEST_CASE("Foreign, empty and mistaken files given as checkpoints or corpora are named for what they are",
          "[faults][corruption]") {
  RunSetup s("foreign_files", 2);
  REQUIRE(run_tokengrow(train_or_resume(s, s.run_dir("run"))).exit_code == 0);
  { H5File::create(s.dir.file("foreign.h5")).write_ints("x", {1, 2, 3}); }
  write_file(s.dir.file("empty.h5"), "");
  write_file(s.dir.file("notes.h5"), std::string(3000, 'x'));
  std::vector<std::string> seen;
  for (const std::string& file : {s.dir.file("foreign.h5"), s.dir.file("empty.h5"), s.dir.file("notes.h5"), s.data,
                                  s.run_dir("run/metrics.h5")})
    seen.push_back("`" + cli_error(run_tokengrow({"eval", "--ckpt", file, "--data", s.data}), s.dir) + "`");
  REQUIRE(seen[3] == "`error: corpus.h5: a tokengrow corpus, not a checkpoint`");
  std::string observed;
  for (const auto& line : seen) observed += (observed.empty() ? "" : "; ") + line;
  record_row("C3", "damaged files",
             "`eval --ckpt` given an HDF5 file from another program, an empty file, a text file, a corpus and a "
             "metrics log",
             "exit 2, one line each: " + observed);
}
