#include "train/metrics_log.h"

#include <algorithm>
#include <filesystem>

#include "core/hdf5_file.h"

namespace tg {

namespace {
const char* kColumns[] = {"step", "tokens", "flops", "train_loss", "val_loss", "val_ppl", "lr", "wall_s", "n_params", "stage"};

std::vector<double> to_values(const MetricsRow& r) {
  return {static_cast<double>(r.step), static_cast<double>(r.tokens), r.flops, r.train_loss, r.val_loss, r.val_ppl,
          r.lr, r.wall_s, static_cast<double>(r.n_params), static_cast<double>(r.stage)};
}
}  // namespace

void MetricsLog::append(const MetricsRow& row) {
  const bool fresh = !std::filesystem::exists(path_);
  H5File file = fresh ? H5File::create(path_) : H5File::open_rw(path_);
  if (fresh) file.set_attr("/", "format", std::string("tokengrow-metrics"));
  const auto values = to_values(row);
  for (size_t i = 0; i < values.size(); ++i) file.append_doubles(kColumns[i], {values[i]});
  file.flush();
}

std::vector<MetricsRow> MetricsLog::read() const {
  H5File file = H5File::open_read(path_);
  std::vector<std::vector<double>> cols;
  for (const char* c : kColumns) cols.push_back(file.read_doubles(c));
  // A crash between two column appends can leave columns of unequal length: the
  // complete rows are those every column has.
  size_t n = cols[0].size();
  for (const auto& c : cols) n = std::min(n, c.size());
  std::vector<MetricsRow> rows(n);
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
  }
  return rows;
}

}  // namespace tg

namespace tg {

void MetricsLog::truncate_after(int64_t step) {
  const auto rows = read();
  size_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= step) ++keep;
  H5File file = H5File::open_rw(path_);
  for (const char* c : kColumns) file.resize_doubles(c, keep);
  file.flush();
}

}  // namespace tg
