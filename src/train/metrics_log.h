#pragma once
// A run's metrics file, metrics.h5: one 1-D float64 dataset per column, one row
// per log point. Columns: step, tokens, flops, train_loss, val_loss, val_ppl, lr,
// wall_s, n_params, stage, skipped_steps, rollbacks (val_* are NaN where no
// validation ran; train_loss is NaN for a stage's first row); root attribute
// format = "tokengrow-metrics".
//
// The file is small (a few hundred rows), so every change rewrites it whole as a
// sealed file published atomically (core/sealed_file.h): a kill at any instant
// leaves either the previous complete log or the new one, never a damaged file.
#include <cstdint>
#include <string>
#include <vector>

#include "core/hdf5_file.h"

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
  // Drops rows logged after `step` (a resumed run re-logs them from its checkpoint);
  // nothing to do when there is no log yet.
  void truncate_after(int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write(const std::vector<MetricsRow>& rows) const;
  std::string path_;
  std::vector<MetricsRow> rows_;  // what the file holds, once loaded
  bool loaded_ = false;
};

// The columns of `rows` as float64 datasets under `group` ("" for the root); also
// how experiment.h5 stores each run's metrics.
void write_metrics_columns(H5File& file, const std::string& group, const std::vector<MetricsRow>& rows);

}  // namespace tg
