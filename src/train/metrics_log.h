#pragma once
// A run's metrics: one row per log point with the columns step, tokens, flops,
// train_loss, val_loss, val_ppl, lr, wall_s, n_params, stage, skipped_steps,
// rollbacks, val_bpb (val_* are NaN where no validation ran; train_loss is NaN for a
// stage's first row; val_bpb, bits per byte of text (train/evaluate.h), is NaN in
// logs written before tokengrow recorded it).
//
// Two files, so that a row costs the same however many came before it:
//   metrics.journal  while a run writes: an append-only journal of fixed-size rows
//                    (core/record_journal.h: 13 float64 in the column order, each row
//                    with its own CRC-32; journals of 12, before val_bpb, still read). A row is one write; rows are made durable
//                    before every checkpoint (sync), which is all a resume needs: it
//                    drops the rows after its checkpoint anyway, and refuses a log
//                    without the rows before it (resume_at).
//   metrics.h5       what readers (h5py) use: one 1-D float64 dataset per column,
//                    root attribute format = "tokengrow-metrics", sealed and published
//                    atomically (core/sealed_file.h). compact() writes it from the
//                    journal, then removes the journal; `train` does so when it ends.
// The journal, where present, holds every row (it starts as a copy of metrics.h5)
// and is what read() returns; after a kill it is there until the next `train` of the
// run compacts it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/hdf5_file.h"
#include "core/record_journal.h"

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
  int64_t rollbacks = 0;      // cumulative rollbacks
  double val_bpb = 0;         // val_loss in bits per byte of text
};

class MetricsLog {
 public:
  // `path` is metrics.h5; the journal is beside it (metrics.journal).
  explicit MetricsLog(std::string path);

  // Whether either file exists.
  bool exists() const;
  void append(const MetricsRow& row);
  std::vector<MetricsRow> read() const;
  // Drops rows logged after `step` (a resumed run re-logs them from its checkpoint);
  // nothing to do when there is no log yet. Durable on return.
  void truncate_after(int64_t step);
  // truncate_after(step) for a resume from `checkpoint` (at `step`), whose run logged
  // rows up to `logged_step` at least. Rows are made durable before every checkpoint,
  // so a kill can only cut off rows after `step`: a log without a row in
  // [logged_step, step] was deleted, cut short or damaged, and is refused first
  // (UserError naming the file and the missing steps).
  void resume_at(const std::string& checkpoint, int64_t step, int64_t logged_step);
  // Every row appended so far is on disk on return.
  void sync();
  // Writes metrics.h5 from the rows and removes the journal (nothing to do without one).
  void compact();
  // Removes both files.
  void remove();
  const std::string& path() const { return path_; }
  const std::string& journal_path() const { return journal_path_; }

 private:
  void open_journal();  // creating it from metrics.h5 (or empty) if there is none
  std::vector<MetricsRow> read_h5() const;
  void keep_through(const std::vector<MetricsRow>& rows, int64_t step);  // rows: read()'s
  // What a resume needs that the log lacks (resume_at).
  std::string missing_rows(const std::vector<MetricsRow>& rows, const std::string& checkpoint, int64_t step,
                           int64_t logged_step) const;
  std::string path_, journal_path_;
  std::unique_ptr<JournalWriter> writer_;
};

// The journal of a metrics.h5 path: "<dir>/metrics.journal".
std::string metrics_journal_path(const std::string& metrics_path);
// "" for a sound metrics journal, else what is wrong (core/record_journal.h).
std::string metrics_journal_problem(const std::string& journal_path);

// The columns of `rows` as float64 datasets under `group` ("" for the root); also
// how experiment.h5 stores each run's metrics.
void write_metrics_columns(H5File& file, const std::string& group, const std::vector<MetricsRow>& rows);

}  // namespace tg
