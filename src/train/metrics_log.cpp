#include "train/metrics_log.h"

#include <filesystem>

#include "core/error.h"
#include "core/sealed_file.h"

namespace tg {

namespace {
const char* const kFormat = "tokengrow-metrics";
const char* const kSealKind = "metrics";
const char* const kColumns[] = {"step", "tokens", "flops", "train_loss", "val_loss",
                                "val_ppl", "lr", "wall_s", "n_params", "stage", "skipped_steps", "rollbacks"};
constexpr size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];

// Every column is float64 (one dataset type for plotting tools); the integer
// columns are exact up to 2^53, far beyond any step, token or parameter count.
std::vector<double> to_values(const MetricsRow& r) {
  return {static_cast<double>(r.step), static_cast<double>(r.tokens), r.flops, r.train_loss, r.val_loss, r.val_ppl,
          r.lr, r.wall_s, static_cast<double>(r.n_params), static_cast<double>(r.stage),
          static_cast<double>(r.skipped_steps), static_cast<double>(r.rollbacks)};
}

MetricsRow from_values(const std::vector<std::vector<double>>& cols, size_t i) {
  MetricsRow r;
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
  return r;
}
}  // namespace

void write_metrics_columns(H5File& file, const std::string& group, const std::vector<MetricsRow>& rows) {
  std::vector<std::vector<double>> cols(kColumnCount);
  for (const MetricsRow& row : rows) {
    const auto values = to_values(row);
    for (size_t c = 0; c < kColumnCount; ++c) cols[c].push_back(values[c]);
  }
  const std::string prefix = group.empty() ? "" : group + "/";
  for (size_t c = 0; c < kColumnCount; ++c) file.write_doubles(prefix + kColumns[c], cols[c]);
}

std::vector<MetricsRow> MetricsLog::read() const {
  if (loaded_) return rows_;
  const H5File file = open_sealed(path_, kSealKind);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(path_ + ": not a tokengrow metrics file (no format = \"" + std::string(kFormat) + "\" attribute)");
  std::vector<std::vector<double>> cols;
  for (const char* c : kColumns) {
    cols.push_back(file.read_doubles(c));
    if (cols.back().size() != cols.front().size())
      throw UserError(path_ + ": column /" + c + " has " + std::to_string(cols.back().size()) + " rows, /step has " +
                      std::to_string(cols.front().size()));
  }
  std::vector<MetricsRow> rows;
  for (size_t i = 0; i < cols.front().size(); ++i) rows.push_back(from_values(cols, i));
  return rows;
}

void MetricsLog::write(const std::vector<MetricsRow>& rows) const {
  write_sealed(path_, kSealKind, [&](H5File& file) {
    file.set_attr("/", "format", std::string(kFormat));
    write_metrics_columns(file, "", rows);
  });
}

void MetricsLog::append(const MetricsRow& row) {
  if (!loaded_) {
    if (std::filesystem::exists(path_)) rows_ = read();
    loaded_ = true;
  }
  std::vector<MetricsRow> rows = rows_;
  rows.push_back(row);
  write(rows);
  rows_ = std::move(rows);  // only once the file holds them
}

void MetricsLog::truncate_after(int64_t step) {
  if (!loaded_ && !std::filesystem::exists(path_)) return;  // no log yet: nothing to drop
  std::vector<MetricsRow> rows = read();
  size_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= step) ++keep;
  if (keep == rows.size()) return;
  rows.resize(keep);
  write(rows);
  rows_ = std::move(rows);
  loaded_ = true;
}

}  // namespace tg
