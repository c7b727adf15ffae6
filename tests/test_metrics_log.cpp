// train/metrics_log.h: the metrics journal, its compaction into metrics.h5 and what a
// killed write leaves.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "test_data.h"
#include "train/metrics_log.h"
#include "user_error_check.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {
MetricsRow row(int64_t step, double val_loss) {
  MetricsRow r;
  r.step = step;
  r.tokens = step * 4096;
  r.flops = 1.25e15 * static_cast<double>(step);
  r.train_loss = 3.0 - 0.01 * static_cast<double>(step);
  r.val_loss = val_loss;
  r.val_ppl = std::exp(val_loss);
  r.lr = 3e-4;
  r.wall_s = 0.5 * static_cast<double>(step);
  r.n_params = 123456789;
  r.stage = step / 20;
  r.skipped_steps = step / 7;
  r.rollbacks = step / 25;
  return r;
}

void require_equal(const MetricsRow& a, const MetricsRow& b) {
  REQUIRE(a.step == b.step);
  REQUIRE(a.tokens == b.tokens);
  REQUIRE(a.flops == b.flops);
  REQUIRE(a.train_loss == b.train_loss);
  REQUIRE((a.val_loss == b.val_loss || (std::isnan(a.val_loss) && std::isnan(b.val_loss))));
  REQUIRE((a.val_ppl == b.val_ppl || (std::isnan(a.val_ppl) && std::isnan(b.val_ppl))));
  REQUIRE(a.lr == b.lr);
  REQUIRE(a.wall_s == b.wall_s);
  REQUIRE(a.n_params == b.n_params);
  REQUIRE(a.stage == b.stage);
  REQUIRE(a.skipped_steps == b.skipped_steps);
  REQUIRE(a.rollbacks == b.rollbacks);
}
}  // namespace

TEST_CASE("MetricsLog appends rows, preserves NaN and continues after reopening and after compaction",
          "[metrics]") {
  TempDir dir("metrics");
  const std::string path = dir.file("metrics.h5");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<MetricsRow> rows = {row(0, 3.5), row(10, nan), row(20, 2.75), row(30, nan)};
  {
    MetricsLog log(path);
    for (int i = 0; i < 3; ++i) log.append(rows[i]);
    const auto back = log.read();
    REQUIRE(back.size() == 3);
    for (int i = 0; i < 3; ++i) require_equal(back[i], rows[i]);
    REQUIRE(std::isnan(back[1].val_loss));
    REQUIRE(fs::exists(dir.file("metrics.journal")));
    REQUIRE_FALSE(fs::exists(path));  // written when the run ends (compact)
  }
  MetricsLog reopened(path);
  reopened.append(rows[3]);
  reopened.compact();
  REQUIRE_FALSE(fs::exists(dir.file("metrics.journal")));
  REQUIRE(H5File::open_read(path).get_attr_string("/", "format") == "tokengrow-metrics");
  REQUIRE(H5File::open_read(path).read_doubles("val_loss").size() == 4);
  const auto back = MetricsLog(path).read();
  REQUIRE(back.size() == 4);
  for (int i = 0; i < 4; ++i) require_equal(back[i], rows[i]);

  // A compacted log goes on: the journal starts as a copy of metrics.h5.
  MetricsLog resumed(path);
  resumed.truncate_after(10);
  REQUIRE(resumed.read().size() == 2);
  resumed.append(rows[2]);
  require_equal(resumed.read().back(), rows[2]);
  REQUIRE(MetricsLog(path).read().size() == 3);
}

TEST_CASE("A metrics row cut short by a kill leaves the rows before it, and the next append replaces it",
          "[metrics]") {
  TempDir dir("metrics_crash");
  const std::string path = dir.file("metrics.h5"), journal = dir.file("metrics.journal");
  {
    MetricsLog log(path);
    log.append(row(0, 3.0));
    log.append(row(10, 2.5));
  }
  // Half of a third row, as a kill in the middle of its write leaves it.
  const std::string whole = testing::read_file(journal);
  const size_t row_bytes = (whole.size() - 512) / 2;
  write_file(journal, whole + whole.substr(whole.size() - row_bytes, row_bytes / 2));
  REQUIRE(metrics_journal_problem(journal).empty());  // recoverable
  REQUIRE(MetricsLog(path).read().size() == 2);
  MetricsLog resumed(path);
  resumed.append(row(20, 2.0));
  REQUIRE(fs::file_size(journal) == whole.size() + row_bytes);
  const auto back = MetricsLog(path).read();
  REQUIRE(back.size() == 3);
  require_equal(back[2], row(20, 2.0));
  // A compaction that dies before publication leaves only a partial temporary file of
  // its own name; the next compaction writes under another and never reads it.
  write_file(path + ".k1ll3d.tmp", "partial HDF5 bytes");
  resumed.compact();
  REQUIRE(MetricsLog(path).read().size() == 3);
  REQUIRE(temp_files_of(path) == std::vector<std::string>{path + ".k1ll3d.tmp"});
}

TEST_CASE("A metrics row costs the same bytes written however many rows came before it", "[metrics]") {
  TempDir dir("metrics_cost");
  const std::string path = dir.file("metrics.h5"), journal = dir.file("metrics.journal");
  MetricsLog log(path);
  log.append(row(0, 3.0));  // creates the journal
  // Bytes this process hands to write(2) (/proc/self/io wchar) per append, and the
  // growth of every file in the directory.
  auto written = [] {
    const std::string io = testing::read_file("/proc/self/io");
    return std::stoll(io.substr(io.find("wchar: ") + 7));
  };
  auto dir_bytes = [&] {
    uintmax_t total = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) total += fs::file_size(e.path());
    return total;
  };
  std::vector<long long> per_row_written;
  std::set<uintmax_t> per_row_growth;
  for (int64_t i = 1; i <= 300; ++i) {
    const long long w0 = written();
    const uintmax_t s0 = dir_bytes();
    log.append(row(i, 2.0));
    per_row_written.push_back(written() - w0);
    per_row_growth.insert(dir_bytes() - s0);
  }
  log.sync();
  // 13 float64 and a CRC-32, row 1 as row 300. wchar counts every write(2) of the
  // process, not only ours: CI once saw one row 32 bytes larger (a write from
  // elsewhere in the process). So: nearly every row costs exactly 108 bytes, and no row
  // costs as much as rewriting three earlier rows would (row 300 rewriting the journal
  // would cost 30 kB).
  REQUIRE(std::count(per_row_written.begin(), per_row_written.end(), 108) >= 290);
  REQUIRE(*std::min_element(per_row_written.begin(), per_row_written.end()) == 108);
  REQUIRE(*std::max_element(per_row_written.begin(), per_row_written.end()) < 324);
  REQUIRE(per_row_growth == std::set<uintmax_t>{108});
  REQUIRE(fs::file_size(journal) == 512 + 301 * 108);
}

TEST_CASE("MetricsLog refuses files that are not metrics logs", "[metrics]") {
  TempDir dir("metrics_bad");
  TempDir corpus_dir("metrics_bad_corpus");
  const std::string corpus = testing::make_corpus(corpus_dir, 1000);
  require_user_error([&] { MetricsLog(corpus).read(); }, {"corpus.h5", "a tokengrow corpus, not a metrics"});
  require_user_error([&] { MetricsLog(corpus).append(row(0, 1.0)); }, {"corpus.h5", "a tokengrow corpus, not a metrics"});
  write_sealed(dir.file("unformatted.h5"), "metrics", [](H5File& f) { f.write_ints("x", {1}); });
  require_user_error([&] { MetricsLog(dir.file("unformatted.h5")).read(); },
                     {"unformatted.h5", "not a tokengrow metrics file"});
  require_user_error([&] { MetricsLog(dir.file("absent.h5")).read(); }, {"absent.h5", "no such file"});
  // Journals: another file under the name, and a damaged row with sound rows after it.
  write_file(dir.file("other.journal"), std::string(600, 'x'));
  require_user_error([&] { MetricsLog(dir.file("other.h5")).read(); },
                     {"other.journal", "not a tokengrow metrics journal with 104-byte records"});
  {
    MetricsLog log(dir.file("m.h5"));
    for (int64_t i = 0; i < 3; ++i) log.append(row(i, 1.0));
  }
  std::string bytes = testing::read_file(dir.file("m.journal"));
  bytes[512 + 108 + 7] ^= 0x10;
  write_file(dir.file("m.journal"), bytes);
  require_user_error([&] { MetricsLog(dir.file("m.h5")).read(); },
                     {"m.journal", "damaged: record 1 of 3 fails its checksum but later records do not"});
  require_user_error([&] { MetricsLog(dir.file("m.h5")).append(row(9, 1.0)); }, {"m.journal", "damaged: record 1"});
}
