#include "train/metrics_log.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace tg {

namespace {
const char* const kFormat = "tokengrow-metrics";
const char* const kColumns[] = {"step", "tokens", "flops", "train_loss", "val_loss",
                                "val_ppl", "lr", "wall_s", "n_params", "stage", "skipped_steps", "rollbacks"};

// Every column is float64 (one dataset type for plotting tools); the integer
// columns are exact up to 2^53, far beyond any step, token or parameter count.
std::vector<double> to_values(const MetricsRow& r) {
  return {static_cast<double>(r.step), static_cast<double>(r.tokens), r.flops, r.train_loss, r.val_loss, r.val_ppl,
          r.lr, r.wall_s, static_cast<double>(r.n_params), static_cast<double>(r.stage),
          static_cast<double>(r.skipped_steps), static_cast<double>(r.rollbacks)};
}

// A crash between two column appends leaves columns of unequal length; the
// complete rows are those every column has.
size_t complete_rows(const H5File& file) {
  size_t n = SIZE_MAX;
  for (const char* c : kColumns) n = std::min(n, file.exists(c) ? static_cast<size_t>(file.shape(c).at(0)) : 0);
  return n;
}

void check_format(const H5File& file) {
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(file.path() + ": not a tokengrow metrics file (no format = \"" + std::string(kFormat) +
                    "\" attribute)");
}
}  // namespace

void MetricsLog::append(const MetricsRow& row) {
  const bool fresh = !std::filesystem::exists(path_);
  H5File file = fresh ? H5File::create(path_) : H5File::open_rw(path_);
  // An existing but empty file is one whose creation was interrupted.
  if (fresh || (file.list("/").empty() && !file.has_attr("/", "format")))
    file.set_attr("/", "format", std::string(kFormat));
  check_format(file);
  // Drop a partial row left by a crash, so the columns stay aligned.
  const size_t rows = complete_rows(file);
  for (const char* c : kColumns)
    if (file.exists(c) && static_cast<size_t>(file.shape(c).at(0)) > rows) file.resize_doubles(c, rows);
  const auto values = to_values(row);
  for (size_t i = 0; i < values.size(); ++i) file.append_doubles(kColumns[i], {values[i]});
  file.flush();
}

std::vector<MetricsRow> MetricsLog::read() const {
  H5File file = H5File::open_read(path_);
  check_format(file);
  std::vector<std::vector<double>> cols;
  for (const char* c : kColumns) cols.push_back(file.exists(c) ? file.read_doubles(c) : std::vector<double>{});
  std::vector<MetricsRow> rows(complete_rows(file));
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& r = rows[i];
    r.step = static_cast<int64_t>(cols[0][i]);
    r.tokens = static_cast<int64_t>(cols[1][i]);
    r.flops = cols[2][i];
    r.train_loss = cols[3][i];
    r.val_loss = cols[4][i];
    r.val_ppl = cols[5][i];
    r.lr = cols[6][i];
    r.wall_s = cols[7][i];
    r.n_params = static_cast<int64_t>(cols[8][i]);
    r.stage = static_cast<int64_t>(cols[9][i]);
    r.skipped_steps = static_cast<int64_t>(cols[10][i]);
    r.rollbacks = static_cast<int64_t>(cols[11][i]);
  }
  return rows;
}

void MetricsLog::truncate_after(int64_t step) {
  const auto rows = read();
  size_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= step) ++keep;
  H5File file = H5File::open_rw(path_);
  for (const char* c : kColumns)
    if (file.exists(c)) file.resize_doubles(c, keep);
  file.flush();
}

}  // namespace tg
