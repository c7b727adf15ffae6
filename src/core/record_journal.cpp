#include "core/record_journal.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "core/crash_point.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/file_status.h"

namespace tg {

namespace {
static_assert(std::endian::native == std::endian::little, "records store little-endian integers as in memory");
const char* const kMagic = "tokengrow journal 1";
constexpr int64_t kCrcBytes = 4;

std::string header_for(const std::string& kind, int64_t payload_bytes) {
  char text[kJournalHeaderBytes] = {0};
  std::snprintf(text, sizeof text, "%s\nkind %s\npayload_bytes %lld\n", kMagic, kind.c_str(),
                static_cast<long long>(payload_bytes));
  return std::string(text, sizeof text);
}

uint32_t record_crc(int64_t index, std::string_view payload) {
  const uint64_t i = static_cast<uint64_t>(index);
  uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(&i), sizeof i);
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(payload.data()), payload.size());
  return static_cast<uint32_t>(crc);
}

std::string record_for(int64_t index, std::string_view payload) {
  std::string record(payload);
  const uint32_t crc = record_crc(index, payload);
  record.append(reinterpret_cast<const char*>(&crc), kCrcBytes);
  return record;
}

bool record_good(int64_t index, std::string_view record, int64_t payload_bytes) {
  uint32_t stored = 0;
  std::memcpy(&stored, record.data() + payload_bytes, kCrcBytes);
  return stored == record_crc(index, record.substr(0, static_cast<size_t>(payload_bytes)));
}

// Reads and checks; returns "" and fills `out`, or what is wrong.
std::string read_checked(const std::string& path, const std::string& kind, int64_t payload_bytes,
                         JournalContents& out) {
  if (std::string problem = regular_file_problem(path); !problem.empty()) return problem;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot open: ") + std::strerror(errno);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (static_cast<int64_t>(bytes.size()) < kJournalHeaderBytes ||
      bytes.compare(0, kJournalHeaderBytes, header_for(kind, payload_bytes)) != 0)
    return "not a tokengrow " + kind + " journal with " + std::to_string(payload_bytes) +
           "-byte records (its first 512 bytes are not that header)";
  const int64_t record_bytes = payload_bytes + kCrcBytes;
  const int64_t body = static_cast<int64_t>(bytes.size()) - kJournalHeaderBytes;
  const int64_t whole = body / record_bytes;
  int64_t good = 0;
  bool bad_seen = false;
  for (int64_t i = 0; i < whole; ++i) {
    const std::string_view record(bytes.data() + kJournalHeaderBytes + i * record_bytes, record_bytes);
    const bool ok = record_good(i, record, payload_bytes);
    if (ok && bad_seen)
      return "damaged: record " + std::to_string(good) + " of " + std::to_string(whole) +
             " fails its checksum but later records do not";
    if (!ok) bad_seen = true;
    if (ok) out.records.emplace_back(record.substr(0, static_cast<size_t>(payload_bytes)));
    good += ok ? 1 : 0;
  }
  out.dropped = whole - good + (body % record_bytes != 0 ? 1 : 0);
  return "";
}
}  // namespace

JournalContents read_journal(const std::string& path, const std::string& kind, int64_t payload_bytes) {
  JournalContents contents;
  if (const std::string problem = read_checked(path, kind, payload_bytes, contents); !problem.empty())
    throw UserError(path + ": " + problem);
  return contents;
}

std::string journal_problem(const std::string& path, const std::string& kind, int64_t payload_bytes) {
  JournalContents contents;
  return read_checked(path, kind, payload_bytes, contents);
}

void write_journal(const std::string& path, const std::string& kind, int64_t payload_bytes,
                   const std::vector<std::string>& records) {
  std::string bytes = header_for(kind, payload_bytes);
  for (size_t i = 0; i < records.size(); ++i) {
    if (static_cast<int64_t>(records[i].size()) != payload_bytes)
      throw std::invalid_argument("write_journal: a record of " + std::to_string(records[i].size()) + " bytes");
    bytes += record_for(static_cast<int64_t>(i), records[i]);
  }
  write_file_durably(path, bytes);
}

JournalWriter::JournalWriter(std::string path, int64_t payload_bytes, int64_t records)
    : path_(std::move(path)), payload_bytes_(payload_bytes), records_(records) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) throw UserError(path_ + ": cannot open to append: " + std::strerror(errno));
  cut_to(records);  // a bad end left by a write cut short
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(std::string_view payload) {
  if (static_cast<int64_t>(payload.size()) != payload_bytes_)
    throw std::invalid_argument("JournalWriter::append: a record of " + std::to_string(payload.size()) + " bytes");
  const std::string record = record_for(records_, payload);
  const off_t at = static_cast<off_t>(kJournalHeaderBytes + records_ * static_cast<int64_t>(record.size()));
  // Two halves, so the fault tests can kill the process with half a record written.
  const size_t half = record.size() / 2;
  bool written = write_at(record.data(), half, at);
  if (written) crash_point("journal.half_appended");
  written = written && write_at(record.data() + half, record.size() - half, at + static_cast<off_t>(half));
  if (!written) {
    const std::string reason = std::strerror(errno);
    try {
      cut_to(records_);
    } catch (const UserError&) {  // a reader drops the partial record anyway
    }
    throw UserError(path_ + ": cannot append a record: " + reason + " (disk full?); the records before it are intact");
  }
  ++records_;
}

bool JournalWriter::write_at(const char* data, size_t size, off_t offset) {
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd_, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void JournalWriter::truncate(int64_t records) {
  if (records >= records_) return;
  cut_to(records);
  sync();
}

void JournalWriter::sync() {
  if (::fdatasync(fd_) != 0)
    throw UserError(path_ + ": fsync failed (" + std::string(std::strerror(errno)) + "); the data may not be on disk");
}

void JournalWriter::cut_to(int64_t records) {
  const off_t size = static_cast<off_t>(kJournalHeaderBytes + records * (payload_bytes_ + kCrcBytes));
  if (::ftruncate(fd_, size) != 0) throw UserError(path_ + ": cannot truncate: " + std::strerror(errno));
  records_ = records;
}

}  // namespace tg
