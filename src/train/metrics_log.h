#pragma once
// A run's metrics file, metrics.h5: one 1-D float64 dataset per column, one row
// per log point. Columns: step, tokens, flops, train_loss, val_loss, val_ppl, lr,
// wall_s, n_params, stage (val_* are NaN where no validation ran; train_loss is
// NaN for the step-0 row); root attribute format = "tokengrow-metrics". Opened,
// appended and closed per row, so a crash loses at most the row being written (a
// partial row is dropped on the next read or append).
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

struct MetricsRow {
  int64_t step = 0;
  int64_t tokens = 0;
  double flops = 0;
  double train_loss = 0;
  double val_loss = 0;
  double val_ppl = 0;
  double lr = 0;
  double wall_s = 0;
  int64_t n_params = 0;
  int64_t stage = 0;
  int64_t skipped_steps = 0;  // cumulative steps skipped for non-finite loss or gradient
  int64_t rollbacks = 0;      // cumulative rollbacks to the last checkpoint
};

class MetricsLog {
 public:
  explicit MetricsLog(std::string path) : path_(std::move(path)) {}
  void append(const MetricsRow& row);
  std::vector<MetricsRow> read() const;
  // Drops rows logged after `step` (a resumed run re-logs them from its checkpoint).
  void truncate_after(int64_t step);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tg
