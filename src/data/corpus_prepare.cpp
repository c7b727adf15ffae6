#include "data/corpus_prepare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/byte_reader.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/log.h"
#include "core/sealed_file.h"

namespace tg {

namespace {
constexpr size_t kPieceBytes = size_t{1} << 20;  // what is read, and buffered per split, at a time

// Refuses an out_path that would replace one of the inputs (the same file under
// any name: a link, "./x", a symlink) or, without `overwrite`, any existing file.
void check_corpus_out(const std::vector<std::string>& text_files, const std::string& out_path, bool overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool out_exists = fs::exists(fs::symlink_status(out_path, ec));
  for (const auto& file : text_files) {
    const bool same = out_exists ? fs::equivalent(file, out_path, ec)
                                 : fs::weakly_canonical(file, ec) == fs::weakly_canonical(out_path, ec);
    if (same)
      throw UserError(out_path + ": is also an input (--text " + file + "); prepare never replaces its own input");
  }
  if (out_exists && !overwrite)
    throw UserError(out_path + ": already exists; prepare never overwrites a file unless given --force");
}

void check_options(const PrepareOptions& options) {
  const double f = options.val_fraction;
  if (!(f >= 0.0 && f <= 0.5)) throw UserError("--val-fraction must be in [0, 0.5], got " + std::to_string(f));
  if (options.val_every < 0)
    throw UserError("--val-every must be a segment length in bytes (0: off), got " + std::to_string(options.val_every));
  if (options.val_every > 0 && f > 0 && std::floor(static_cast<double>(options.val_every) * f) < 1)
    throw UserError("--val-every " + std::to_string(options.val_every) + " with --val-fraction " + line(f) +
                    " holds out no byte of a segment; use segments of at least " +
                    std::to_string(static_cast<int64_t>(std::ceil(1.0 / f))) + " bytes");
}

// Where each byte of a file goes: the file cut into segments of val_every bytes
// (one segment, the whole file, when val_every is 0; the last one may be shorter),
// and each segment's last floor(length * val_fraction) bytes go to validation.
class SplitRule {
 public:
  SplitRule(double val_fraction, int64_t val_every) : val_fraction_(val_fraction), val_every_(val_every) {}

  int64_t val_bytes_of_file(int64_t file_bytes) const {
    if (file_bytes == 0) return 0;
    const int64_t segment = segment_bytes(file_bytes);
    return file_bytes / segment * val_bytes(segment) + val_bytes(file_bytes % segment);
  }
  // From position `pos` of a file: whether the bytes there are validation, and how
  // many in a row are.
  std::pair<bool, int64_t> run_at(int64_t pos, int64_t file_bytes) const {
    const int64_t segment = segment_bytes(file_bytes);
    const int64_t start = pos / segment * segment, end = std::min(start + segment, file_bytes);
    const int64_t val_start = end - val_bytes(end - start);
    return pos < val_start ? std::pair{false, val_start - pos} : std::pair{true, end - pos};
  }

 private:
  int64_t segment_bytes(int64_t file_bytes) const { return val_every_ > 0 ? val_every_ : file_bytes; }
  int64_t val_bytes(int64_t segment) const {
    return static_cast<int64_t>(std::floor(static_cast<double>(segment) * val_fraction_));
  }
  double val_fraction_;
  int64_t val_every_;
};

// Where split_file sends the bytes of one split: appended in order, and told where
// each run of them (one file's or one segment's part of the split) ends.
class TextSink {
 public:
  virtual ~TextSink() = default;
  virtual void append(const char* data, size_t count) = 0;
  virtual void end_run() {}
};

// One split's dataset of bytes (the bytes tokenizer), filled front to back through a buffer. It is created at its
// first write, after `before` has written, so the file is laid out as writing
// /train whole and then /val whole lays it out (as prepare always wrote corpora).
class SplitWriter : public TextSink {
 public:
  SplitWriter(H5File& file, std::string name, int64_t size, SplitWriter* before)
      : file_(file), name_(std::move(name)), size_(size), before_(before) {
    buffer_.reserve(kPieceBytes);
  }
  void append(const char* data, size_t count) override {
    while (count > 0) {
      const size_t take = std::min(count, kPieceBytes - buffer_.size());
      buffer_.insert(buffer_.end(), data, data + take);
      data += take;
      count -= take;
      if (buffer_.size() == kPieceBytes) flush();
    }
  }
  // Writes what is buffered (creating the dataset, if no byte came, empty).
  void flush() {
    if (!created_) {
      if (before_ != nullptr) before_->flush();
      file_.create_bytes_u8(name_, size_);
      created_ = true;
    }
    file_.write_bytes_u8_at(name_, written_, reinterpret_cast<const uint8_t*>(buffer_.data()), buffer_.size());
    written_ += static_cast<int64_t>(buffer_.size());
    buffer_.clear();
  }

 private:
  H5File& file_;
  std::string name_;
  int64_t size_, written_ = 0;
  SplitWriter* before_;
  bool created_ = false;
  std::vector<char> buffer_;
};

// One split's token ids (a SentencePiece tokenizer): its text cut into pieces of
// about 1 MiB, each ending at a line end (or at a run's end), so the ids are those of
// encoding each run whole (the tokenizer's pieces never span a "\n"). Pieces are
// encoded a batch at a time, in parallel on the OpenMP threads, and appended in order:
// memory stays bounded by the batch.
class EncodingSink : public TextSink {
 public:
  EncodingSink(const Tokenizer& tokenizer, std::vector<int32_t>& ids) : tokenizer_(tokenizer), ids_(ids) {}
  void append(const char* data, size_t count) override {
    pending_.append(data, count);
    if (pending_.size() < kEncodePieceBytes) return;
    const size_t newline = pending_.rfind('\n');
    // A run of 1 MiB without a line end is cut as it is (anywhere: byte fallback keeps
    // every byte, so decoding still gives the text back).
    if (newline == std::string::npos && pending_.size() < kPieceBytes) return;
    cut(newline == std::string::npos ? pending_.size() : newline + 1);
    if (pieces_.size() >= kBatchPieces) encode_pieces();
  }
  void end_run() override {
    if (!pending_.empty()) cut(pending_.size());
    encode_pieces();
  }

 private:
  // SentencePiece's encoder takes ~155 bytes of memory per byte of text (measured):
  // pieces of 256 KiB, 8 at a time, keep that near 320 MB.
  static constexpr size_t kEncodePieceBytes = size_t{256} << 10;
  static constexpr size_t kBatchPieces = 8;
  void cut(size_t bytes) {
    pieces_.push_back(pending_.substr(0, bytes));
    pending_.erase(0, bytes);
  }
  void encode_pieces() {
    std::vector<std::vector<int32_t>> ids(pieces_.size());
    std::vector<std::string> errors(pieces_.size());
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < pieces_.size(); ++i) {
      try {  // nothing may leave an OpenMP region by an exception
        ids[i] = tokenizer_.encode(pieces_[i]);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
    for (size_t i = 0; i < pieces_.size(); ++i) {
      if (!errors[i].empty()) throw UserError(errors[i]);
      ids_.insert(ids_.end(), ids[i].begin(), ids[i].end());
    }
    pieces_.clear();
  }
  const Tokenizer& tokenizer_;
  std::vector<int32_t>& ids_;
  std::string pending_;
  std::vector<std::string> pieces_;  // cut, not yet encoded
};

// Lines of the training text spread evenly over all of it, about `budget` bytes in
// all: a line is kept while the bytes kept stay below budget / total of those seen.
class SampleSink : public TextSink {
 public:
  SampleSink(int64_t budget, int64_t total, std::vector<std::string>& lines)
      : keep_fraction_(total > 0 ? std::min(1.0, static_cast<double>(budget) / static_cast<double>(total)) : 1.0),
        lines_(lines) {}
  void append(const char* data, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      if (data[i] == '\n') end_line();
      else if (line_.size() < kMaxSampleLineBytes) line_.push_back(data[i]);  // the trainer cuts longer ones
    }
  }
  void end_run() override {
    if (!line_.empty()) end_line();
  }
  int64_t kept_bytes() const { return kept_; }

 private:
  static constexpr size_t kMaxSampleLineBytes = 65536;
  void end_line() {
    const auto bytes = static_cast<int64_t>(line_.size()) + 1;  // what the sample holds of the line
    seen_ += bytes;
    if (static_cast<double>(kept_) < keep_fraction_ * static_cast<double>(seen_)) {
      kept_ += bytes;
      if (!line_.empty()) lines_.push_back(line_);
    }
    line_.clear();
  }
  double keep_fraction_;
  std::vector<std::string>& lines_;
  std::string line_;
  int64_t seen_ = 0, kept_ = 0;
};

class DiscardSink : public TextSink {
 public:
  void append(const char*, size_t) override {}
};

// "prepare: 20.0 of 44.3 MB read (gcide.dict.dz)" at every tenth of the input and
// at least every few seconds.
class ReadProgress {
 public:
  ReadProgress(spdlog::logger* log, int64_t total, std::string verb = "read")
      : log_(log), total_(total), verb_(std::move(verb)), last_(Clock::now()) {}
  void add(int64_t bytes, const std::string& file) {
    done_ += bytes;
    const bool tenth = done_ * 10 >= next_tenth_ * total_;
    if (log_ == nullptr || !(tenth || Clock::now() - last_ >= std::chrono::seconds(3))) return;
    while (done_ * 10 >= next_tenth_ * total_) ++next_tenth_;
    last_ = Clock::now();
    log_->info(line("prepare: ", megabytes(done_), " of ", megabytes(total_), " MB ", verb_, " (",
                    std::filesystem::path(file).filename().string(), ")"));
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string megabytes(int64_t bytes) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / 1e6;
    return text.str();
  }
  spdlog::logger* log_;
  int64_t total_, done_ = 0, next_tenth_ = 1;
  std::string verb_;
  Clock::time_point last_;
};

std::string too_large(const std::string& file, int64_t max_tokens) {
  return file + ": the text files up to this one hold more than " + std::to_string(max_tokens) +
         " bytes, the most tokens a corpus holds (make several corpora)";
}

// Each file's byte count (a gzip file's decompressed, by reading it through, and
// stopping once the total passes max_tokens): known before anything is allocated.
std::vector<int64_t> measure_inputs(const std::vector<std::string>& files, int64_t max_tokens, std::vector<char>& buffer) {
  std::vector<int64_t> sizes;
  int64_t total = 0;
  for (const auto& file : files) {
    ByteReader reader(file, "text file");
    int64_t size = reader.file_bytes();
    if (reader.compressed()) {
      size = 0;
      while (const size_t n = reader.read(buffer.data(), buffer.size())) {
        size += static_cast<int64_t>(n);
        if (total + size > max_tokens) throw UserError(too_large(file, max_tokens));
      }
    }
    total += size;
    if (total > max_tokens) throw UserError(too_large(file, max_tokens));
    sizes.push_back(size);
  }
  return sizes;
}

[[noreturn]] void changed(const std::string& file, int64_t measured) {
  throw UserError(file + ": changed while prepare read it (it held " + std::to_string(measured) +
                  " bytes when first read); nothing written");
}

// Streams one file into the two splits; it must still hold `size` bytes.
void split_file(const std::string& file, int64_t size, const SplitRule& rule, TextSink& train, TextSink& val,
                ReadProgress& progress, std::vector<char>& buffer) {
  ByteReader reader(file, "text file");
  int64_t pos = 0;
  while (const size_t n = reader.read(buffer.data(), buffer.size())) {
    if (pos + static_cast<int64_t>(n) > size) changed(file, size);
    for (size_t k = 0; k < n;) {
      const auto [is_val, run] = rule.run_at(pos + static_cast<int64_t>(k), size);
      const size_t take = static_cast<size_t>(std::min<int64_t>(run, static_cast<int64_t>(n - k)));
      TextSink& sink = is_val ? val : train;
      sink.append(buffer.data() + k, take);
      if (static_cast<int64_t>(take) == run) sink.end_run();
      k += take;
    }
    pos += static_cast<int64_t>(n);
    progress.add(static_cast<int64_t>(n), file);
  }
  if (pos != size) changed(file, size);
}
}  // namespace

std::string val_rule_text(double val_fraction, int64_t val_every) {
  if (val_fraction == 0) return "none (val_fraction 0)";
  return line("last ", val_fraction, " of ",
              val_every > 0 ? "every " + std::to_string(val_every) + "-byte segment of each file" : "each file");
}

namespace {
// The inputs, measured, and how they split: what every pass over them needs.
struct PrepareInputs {
  const std::vector<std::string>& files;
  std::vector<int64_t> sizes;
  SplitRule rule;
  int64_t total_bytes = 0, val_bytes = 0;
  int64_t train_bytes() const { return total_bytes - val_bytes; }
};

// One pass over every file, each split's bytes into its sink.
void split_inputs(const PrepareInputs& in, TextSink& train, TextSink& val, ReadProgress& progress,
                  std::vector<char>& buffer) {
  for (size_t i = 0; i < in.files.size(); ++i) split_file(in.files[i], in.sizes[i], in.rule, train, val, progress, buffer);
}

void write_corpus_attributes(H5File& file, const CorpusInfo& info, const std::vector<std::string>& text_files,
                             const PrepareOptions& options) {
  file.set_attr("/", "format", std::string(kCorpusFormat));
  file.set_attr("/", "format_version", kCorpusFormatVersion);
  write_tokenizer_spec(file, info.tokenizer, info.vocab_size);
  file.set_attr("/", "vocab_size", info.vocab_size);
  file.set_attr("/", "sources", nlohmann::json(text_files).dump());
  file.set_attr("/", "val_fraction", options.val_fraction);
  file.set_attr("/", "val_rule", val_rule_text(options.val_fraction, options.val_every));
  file.set_attr("/", "train_text_bytes", info.train_text_bytes);
  file.set_attr("/", "val_text_bytes", info.val_text_bytes);
}

// The bytes tokenizer: bytes streamed straight into the datasets.
CorpusInfo write_byte_corpus(const PrepareInputs& in, const std::string& out_path, const PrepareOptions& options,
                             std::vector<char>& buffer) {
  const CorpusInfo info{TokenizerSpec{}, 256, in.train_bytes(), in.val_bytes, in.train_bytes(), in.val_bytes};
  write_sealed(out_path, kCorpusSealKind, [&](H5File& file) {
    SplitWriter train(file, "train", in.train_bytes(), nullptr), val(file, "val", in.val_bytes, &train);
    ReadProgress progress(options.log, in.total_bytes);
    split_inputs(in, train, val, progress, buffer);
    train.flush();
    val.flush();
    write_corpus_attributes(file, info, in.files, options);
  }, options.overwrite ? Publish::Replace : Publish::Exclusive);
  return info;
}

// A SentencePiece tokenizer trained on lines sampled evenly from the training text
// (never the validation text).
TokenizerSpec train_corpus_tokenizer(const PrepareInputs& in, const PrepareOptions& options, std::vector<char>& buffer) {
  std::vector<std::string> lines;
  SampleSink sample(options.tokenizer_sample_bytes, in.train_bytes(), lines);
  DiscardSink val;
  ReadProgress progress(options.log, in.total_bytes, "sampled for the tokenizer");
  split_inputs(in, sample, val, progress, buffer);
  const auto start = std::chrono::steady_clock::now();
  TokenizerSpec spec = train_tokenizer(lines, *options.train_tokenizer);
  if (options.log != nullptr)
    options.log->info(line("prepare: trained a ", spec.kind, " tokenizer of ", options.train_tokenizer->vocab_size,
                           " pieces on ", sample.kept_bytes(), " bytes (", lines.size(), " lines) in ",
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), " s"));
  return spec;
}

// A SentencePiece tokenizer: the text encoded into memory (4 bytes per token, fewer
// tokens than bytes), then written as the smallest integer type of the vocabulary.
CorpusInfo write_subword_corpus(const PrepareInputs& in, const Tokenizer& tokenizer, const std::string& out_path,
                                const PrepareOptions& options, std::vector<char>& buffer) {
  std::vector<int32_t> train_ids, val_ids;
  EncodingSink train(tokenizer, train_ids), val(tokenizer, val_ids);
  ReadProgress progress(options.log, in.total_bytes, "encoded");
  split_inputs(in, train, val, progress, buffer);
  const CorpusInfo info{tokenizer.spec(), tokenizer.vocab_size(), static_cast<int64_t>(train_ids.size()),
                        static_cast<int64_t>(val_ids.size()), in.train_bytes(), in.val_bytes};
  write_sealed(out_path, kCorpusSealKind, [&](H5File& file) {
    file.write_token_ids("train", train_ids, info.vocab_size);
    file.write_token_ids("val", val_ids, info.vocab_size);
    write_corpus_attributes(file, info, in.files, options);
  }, options.overwrite ? Publish::Replace : Publish::Exclusive);
  return info;
}
}  // namespace

CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path,
                          const PrepareOptions& options) {
  check_options(options);
  if (text_files.empty()) throw UserError("no text files given");
  check_corpus_out(text_files, out_path, options.overwrite);
  std::vector<char> buffer(kPieceBytes);
  PrepareInputs in{text_files, measure_inputs(text_files, options.max_tokens, buffer),
                   SplitRule(options.val_fraction, options.val_every)};
  for (int64_t size : in.sizes) {
    in.total_bytes += size;
    in.val_bytes += in.rule.val_bytes_of_file(size);
  }
  if (in.total_bytes == 0) throw UserError("the text files are empty; nothing to prepare");

  // Sealed and published atomically: a failure (disk full, Ctrl-C, a damaged gzip
  // file) never leaves a half-written corpus or clobbers an existing one.
  if (!options.train_tokenizer && options.tokenizer.kind == "bytes")
    return write_byte_corpus(in, out_path, options, buffer);
  const TokenizerSpec spec =
      options.train_tokenizer ? train_corpus_tokenizer(in, options, buffer) : options.tokenizer;
  const Tokenizer tokenizer(spec, options.train_tokenizer ? std::string("the trained tokenizer") : "--tokenizer-model");
  return write_subword_corpus(in, tokenizer, out_path, options, buffer);
}

CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path, double val_fraction,
                          bool overwrite) {
  PrepareOptions options;
  options.val_fraction = val_fraction;
  options.overwrite = overwrite;
  return prepare_corpus(text_files, out_path, options);
}

}  // namespace tg
