#include "train/metrics_log.h"

#include <cstring>
#include <filesystem>
#include <limits>
#include <algorithm>
#include <optional>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sealed_file.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
const char* const kFormat = "tokengrow-metrics";
const char* const kSealKind = "metrics";
const char* const kColumns[] = {"step", "tokens", "flops", "train_loss", "val_loss",
                                "val_ppl", "lr", "wall_s", "n_params", "stage", "skipped_steps", "rollbacks",
                                "val_bpb"};
constexpr size_t kColumnCount = sizeof kColumns / sizeof kColumns[0];
constexpr int64_t kRowBytes = kColumnCount * sizeof(double);  // a journal record's payload
// Columns added after the first release: a metrics.h5 or journal without them reads NaN.
constexpr size_t kFirstColumnCount = 12;
constexpr int64_t kFirstRowBytes = kFirstColumnCount * sizeof(double);

// Every column is float64 (one dataset type for plotting tools); the integer
// columns are exact up to 2^53, far beyond any step, token or parameter count.
std::vector<double> to_values(const MetricsRow& r) {
  return {static_cast<double>(r.step), static_cast<double>(r.tokens), r.flops, r.train_loss, r.val_loss, r.val_ppl,
          r.lr, r.wall_s, static_cast<double>(r.n_params), static_cast<double>(r.stage),
          static_cast<double>(r.skipped_steps), static_cast<double>(r.rollbacks), r.val_bpb};
}

MetricsRow from_values(const double* v) {
  MetricsRow r;
  r.step = static_cast<int64_t>(v[0]);
  r.tokens = static_cast<int64_t>(v[1]);
  r.flops = v[2];
  r.train_loss = v[3];
  r.val_loss = v[4];
  r.val_ppl = v[5];
  r.lr = v[6];
  r.wall_s = v[7];
  r.n_params = static_cast<int64_t>(v[8]);
  r.stage = static_cast<int64_t>(v[9]);
  r.skipped_steps = static_cast<int64_t>(v[10]);
  r.rollbacks = static_cast<int64_t>(v[11]);
  r.val_bpb = v[12];
  return r;
}

std::string to_record(const MetricsRow& row) {
  const std::vector<double> values = to_values(row);
  return std::string(reinterpret_cast<const char*>(values.data()), kRowBytes);
}

MetricsRow from_record(const std::string& record) {
  double values[kColumnCount];
  std::fill(values, values + kColumnCount, std::numeric_limits<double>::quiet_NaN());
  std::memcpy(values, record.data(), std::min<size_t>(record.size(), kRowBytes));
  return from_values(values);
}

// A journal of this tokengrow's rows, or of the first release's 12 columns.
bool is_first_release_journal(const std::string& journal_path) {
  return journal_problem(journal_path, kSealKind, kRowBytes) != "" &&
         journal_problem(journal_path, kSealKind, kFirstRowBytes) == "";
}

// The record size of a metrics journal: this tokengrow's, or the first release's.
int64_t journal_row_bytes(const std::string& journal_path) {
  return is_first_release_journal(journal_path) ? kFirstRowBytes : kRowBytes;
}

std::vector<std::string> to_records(const std::vector<MetricsRow>& rows) {
  std::vector<std::string> records;
  for (const MetricsRow& row : rows) records.push_back(to_record(row));
  return records;
}
}  // namespace

std::string metrics_journal_path(const std::string& metrics_path) {
  fs::path p(metrics_path);
  return p.replace_extension(".journal").string();
}

std::string metrics_journal_problem(const std::string& journal_path) {
  if (is_first_release_journal(journal_path)) return "";
  return journal_problem(journal_path, kSealKind, kRowBytes);
}

void write_metrics_columns(H5File& file, const std::string& group, const std::vector<MetricsRow>& rows) {
  std::vector<std::vector<double>> cols(kColumnCount);
  for (const MetricsRow& row : rows) {
    const auto values = to_values(row);
    for (size_t c = 0; c < kColumnCount; ++c) cols[c].push_back(values[c]);
  }
  const std::string prefix = group.empty() ? "" : group + "/";
  for (size_t c = 0; c < kColumnCount; ++c) file.write_doubles(prefix + kColumns[c], cols[c]);
}

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)), journal_path_(metrics_journal_path(path_)) {}

bool MetricsLog::exists() const { return fs::exists(journal_path_) || fs::exists(path_); }

std::vector<MetricsRow> MetricsLog::read() const {
  if (!fs::exists(journal_path_)) return read_h5();
  std::vector<MetricsRow> rows;
  for (const std::string& record : read_journal(journal_path_, kSealKind, journal_row_bytes(journal_path_)).records)
    rows.push_back(from_record(record));
  return rows;
}

std::vector<MetricsRow> MetricsLog::read_h5() const {
  const H5File file = open_sealed(path_, kSealKind);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kFormat)
    throw UserError(path_ + ": not a tokengrow metrics file (no format = \"" + std::string(kFormat) + "\" attribute)");
  std::vector<std::vector<double>> cols;
  for (const char* c : kColumns) {
    const bool added_later = cols.size() >= kFirstColumnCount;
    if (added_later && !file.exists(c)) {
      cols.emplace_back(cols.front().size(), std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    cols.push_back(file.read_doubles(c));
    if (cols.back().size() != cols.front().size())
      throw UserError(path_ + ": column /" + c + " has " + std::to_string(cols.back().size()) + " rows, /step has " +
                      std::to_string(cols.front().size()));
  }
  std::vector<MetricsRow> rows;
  std::vector<double> values(kColumnCount);
  for (size_t i = 0; i < cols.front().size(); ++i) {
    for (size_t c = 0; c < kColumnCount; ++c) values[c] = cols[c][i];
    rows.push_back(from_values(values.data()));
  }
  return rows;
}

void MetricsLog::open_journal() {
  if (writer_) return;
  if (fs::exists(journal_path_) && is_first_release_journal(journal_path_))
    write_journal(journal_path_, kSealKind, kRowBytes, to_records(read()));  // rewritten with val_bpb (NaN)
  if (!fs::exists(journal_path_))
    write_journal(journal_path_, kSealKind, kRowBytes, fs::exists(path_) ? to_records(read_h5()) : std::vector<std::string>{});
  const JournalContents contents = read_journal(journal_path_, kSealKind, kRowBytes);
  writer_ = std::make_unique<JournalWriter>(journal_path_, kRowBytes, static_cast<int64_t>(contents.records.size()));
}

void MetricsLog::append(const MetricsRow& row) {
  open_journal();
  writer_->append(to_record(row));
}

void MetricsLog::truncate_after(int64_t step) {
  if (!exists()) return;  // no log yet: nothing to drop
  keep_through(read(), step);
}

void MetricsLog::keep_through(const std::vector<MetricsRow>& rows, int64_t step) {
  size_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= step) ++keep;
  if (keep == rows.size()) return;
  open_journal();
  writer_->truncate(static_cast<int64_t>(keep));
}

void MetricsLog::resume_at(const std::string& checkpoint, int64_t step, int64_t logged_step) {
  const std::vector<MetricsRow> rows = exists() ? read() : std::vector<MetricsRow>{};
  bool reached = false;
  for (const MetricsRow& row : rows) reached = reached || (row.step >= logged_step && row.step <= step);
  if (!reached) throw UserError(missing_rows(rows, checkpoint, step, logged_step));
  keep_through(rows, step);
}

std::string MetricsLog::missing_rows(const std::vector<MetricsRow>& rows, const std::string& checkpoint,
                                     int64_t step, int64_t logged_step) const {
  const std::string needs = line(checkpoint, " (step ", step, ") logged rows up to step ", logged_step);
  const std::string restore = "; restore the file, or start the run again with another --out";
  if (!exists()) return line(path_, ": missing (as is ", journal_path_, "), but ", needs, restore);
  std::optional<int64_t> last;  // the log's last row up to `step`
  for (const MetricsRow& row : rows)
    if (row.step <= step) last = row.step;
  const std::string held = last ? line("ends at step ", *last) : line("holds no row up to step ", step);
  const std::string lost = last ? line("the rows after step ", *last, " up to step ", logged_step)
                                : line("the rows up to step ", logged_step);
  const bool journal = fs::exists(journal_path_);
  const bool bad_end = journal && read_journal(journal_path_, kSealKind, journal_row_bytes(journal_path_)).dropped > 0;
  const std::string damage =
      bad_end ? " (its last record is cut short or damaged, which a kill does only to rows after the last checkpoint)" : "";
  return line(journal ? journal_path_ : path_, ": ", held, damage, ", but ", needs, ": ", lost, " are missing", restore);
}

void MetricsLog::sync() {
  if (writer_) writer_->sync();
}

void MetricsLog::compact() {
  if (!fs::exists(journal_path_)) return;
  const std::vector<MetricsRow> rows = read();
  write_sealed(path_, kSealKind, [&](H5File& file) {
    file.set_attr("/", "format", std::string(kFormat));
    write_metrics_columns(file, "", rows);
  });
  writer_.reset();
  remove_file_durably(journal_path_);
}

void MetricsLog::remove() {
  writer_.reset();
  std::error_code ec;
  fs::remove(path_, ec);
  fs::remove(journal_path_, ec);
}

}  // namespace tg
