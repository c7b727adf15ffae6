#pragma once
// An append-only file of fixed-size records, each with its own CRC-32: for logs that
// grow one record at a time (a run's metrics rows), where appending writes the new
// record only, so that a record costs the same however many came before it.
//
// Layout: a 512-byte text header, NUL-padded (`head -c 512 FILE` shows it)
//   tokengrow journal 1
//   kind metrics
//   payload_bytes 104
// then records of payload_bytes + 4 bytes: the payload, then the zlib CRC-32
// (little-endian) of the record's index (8 bytes, little-endian) followed by the
// payload, so that a record out of place fails its check as a damaged one does.
//
// Crash safety: a journal is created whole under a temporary name and renamed into
// place (core/durable_file.h); a record is appended with one write(2) and is on disk
// after sync(). A kill or power cut can only leave bad records at the end: readers
// take the longest run of good records from the start and drop a bad end (which
// the next writer cuts off). A bad record followed by a good one is damage, and an
// error, as is a header that is not a journal of the expected kind and size.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tg {

// Bytes of the header before the first record.
inline constexpr int64_t kJournalHeaderBytes = 512;

struct JournalContents {
  std::vector<std::string> records;  // payloads, oldest first
  int64_t dropped = 0;               // bad records at the end (a write cut short), left out
};

// Reads a journal of this kind and payload size; UserError naming the file when it
// is missing, not such a journal, or damaged before its end.
JournalContents read_journal(const std::string& path, const std::string& kind, int64_t payload_bytes);

// The same check without throwing: "" for a sound journal (a bad end included, as a
// reader recovers from it), else what is wrong.
std::string journal_problem(const std::string& path, const std::string& kind, int64_t payload_bytes);

// Creates (or replaces, atomically) `path` as a journal holding `records`.
void write_journal(const std::string& path, const std::string& kind, int64_t payload_bytes,
                   const std::vector<std::string>& records);

// Appends to an existing journal.
class JournalWriter {
 public:
  // `records` is how many good records the journal holds (read_journal's count);
  // anything after them (a bad end) is cut off first.
  JournalWriter(std::string path, int64_t payload_bytes, int64_t records);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes one record (payload_bytes long) at the end. A failed write (disk full)
  // cuts the file back to the records before it and throws UserError.
  void append(std::string_view payload);
  // Keeps the first `records` records; durable on return.
  void truncate(int64_t records);
  // Everything appended so far is on disk on return.
  void sync();
  int64_t records() const { return records_; }

 private:
  void cut_to(int64_t records);
  bool write_at(const char* data, size_t size, off_t offset);  // false with errno set
  std::string path_;
  int64_t payload_bytes_;
  int64_t records_;
  int fd_ = -1;
};

}  // namespace tg
