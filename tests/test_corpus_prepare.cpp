// `tokengrow prepare` beyond one plain file: gzip and dictzip inputs, the per-file
// and per-segment validation split against a naive reference, damaged gzip files,
// the size limit and the progress lines.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "gzip_data.h"
#include "test_data.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {
// n bytes of every value 0..255, in no order a rule could exploit.
std::string random_bytes(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::string bytes(n, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng.below(256));
  return bytes;
}

// The split written out naively: each file cut into segments of `every` bytes (the
// whole file when 0), each segment's last floor(length * fraction) bytes validation.
std::pair<std::string, std::string> reference_split(const std::vector<std::string>& texts, double fraction,
                                                    size_t every) {
  std::string train, val;
  for (const auto& text : texts) {
    const size_t segment = every > 0 ? every : text.size();
    for (size_t start = 0; start < text.size(); start += segment) {
      const std::string piece = text.substr(start, segment);
      const size_t n_val = static_cast<size_t>(std::floor(static_cast<double>(piece.size()) * fraction));
      train += piece.substr(0, piece.size() - n_val);
      val += piece.substr(piece.size() - n_val);
    }
  }
  return {train, val};
}

PrepareOptions split_options(double fraction, int64_t every, bool overwrite = true) {
  PrepareOptions options;
  options.val_fraction = fraction;
  options.val_every = every;
  options.overwrite = overwrite;
  return options;
}

std::pair<std::string, std::string> splits_of(const std::string& corpus_path) {
  const Corpus c = load_corpus(corpus_path);
  return {detokenize_bytes(c.train), detokenize_bytes(c.val)};
}

}  // namespace

TEST_CASE("prepare reads gzip files, several members and dictzip's extra field, as their text", "[corpus]") {
  TempDir dir("prepare_gzip");
  const std::string text = random_bytes(1, 300000) + make_text(2, 200000);
  write_file(dir.file("plain.txt"), text);
  // Three members, under a name that does not say gzip: the magic bytes decide.
  write_gzip_members(dir.file("members.bin"), {text.substr(0, 100000), text.substr(100000, 1), text.substr(100001)});
  write_file(dir.file("dict.dz"), gzip_with_extra_field(text));
  REQUIRE(read_file(dir.file("members.bin")).substr(0, 2) == "\x1f\x8b");
  REQUIRE(read_file(dir.file("members.bin")).size() < text.size());  // really compressed, not stored

  for (const int64_t every : {int64_t{0}, int64_t{65536}}) {
    INFO("val_every " << every);
    const CorpusInfo plain = prepare_corpus({dir.file("plain.txt")}, dir.file("plain.h5"), split_options(0.1, every));
    for (const char* compressed : {"members.bin", "dict.dz"}) {
      INFO(compressed);
      const CorpusInfo info =
          prepare_corpus({dir.file(compressed)}, dir.file("gz.h5"), split_options(0.1, every));
      REQUIRE(info.train_tokens == plain.train_tokens);
      REQUIRE(info.val_tokens == plain.val_tokens);
      REQUIRE(splits_of(dir.file("gz.h5")) == splits_of(dir.file("plain.h5")));
      REQUIRE(splits_of(dir.file("gz.h5")) == reference_split({text}, 0.1, static_cast<size_t>(every)));
    }
  }
}

TEST_CASE("prepare splits each file, or each --val-every segment of it, as the naive rule does", "[corpus]") {
  TempDir dir("prepare_split");
  // A file over the 1 MiB read piece, tiny files, and one of exactly two segments.
  const std::vector<std::string> texts = {make_text(3, 2500000), "x", random_bytes(4, 12345), "",
                                          random_bytes(5, 8192)};
  std::vector<std::string> paths;
  for (size_t i = 0; i < texts.size(); ++i) {
    paths.push_back(dir.file("t" + std::to_string(i) + (i == 2 ? ".gz" : ".txt")));
    if (i == 2) {
      write_gzip_members(paths.back(), {texts[i].substr(0, 5000), texts[i].substr(5000)});
    } else {
      write_file(paths.back(), texts[i]);
    }
  }
  for (const double fraction : {0.05, 0.1, 0.5}) {
    for (const int64_t every : {int64_t{0}, int64_t{1000}, int64_t{4096}, int64_t{1} << 20}) {
      INFO("val_fraction " << fraction << ", val_every " << every);
      const CorpusInfo info = prepare_corpus(paths, dir.file("c.h5"), split_options(fraction, every));
      const auto expected = reference_split(texts, fraction, static_cast<size_t>(every));
      REQUIRE(splits_of(dir.file("c.h5")) == expected);
      REQUIRE(info.train_tokens == static_cast<int64_t>(expected.first.size()));
      REQUIRE(info.val_tokens == static_cast<int64_t>(expected.second.size()));
      const H5File file = H5File::open_read(dir.file("c.h5"));
      REQUIRE(file.get_attr_string("/", "val_rule") ==
              (every > 0 ? "last " + line(fraction) + " of every " + std::to_string(every) + "-byte segment of each file"
                         : "last " + line(fraction) + " of each file"));
    }
  }
  // Validation by segment samples the whole of a long file, not only its end.
  const auto by_tail = reference_split({texts[0]}, 0.05, 0);
  const auto by_segment = reference_split({texts[0]}, 0.05, 1 << 20);
  REQUIRE(by_tail.second != by_segment.second);
}

TEST_CASE("prepare of one file keeps the old rule: the last val_fraction of the text is validation", "[corpus]") {
  TempDir dir("prepare_one_file");
  const std::string text = make_text(6, 1500000) + random_bytes(7, 777);
  write_file(dir.file("t.txt"), text);
  const size_t n_val = static_cast<size_t>(std::floor(static_cast<double>(text.size()) * 0.05));
  const CorpusInfo info = prepare_corpus({dir.file("t.txt")}, dir.file("c.h5"), 0.05);
  REQUIRE(info.val_tokens == static_cast<int64_t>(n_val));
  REQUIRE(splits_of(dir.file("c.h5")) == std::pair{text.substr(0, text.size() - n_val), text.substr(text.size() - n_val)});
}

TEST_CASE("prepare refuses a damaged or truncated gzip file and writes nothing", "[corpus]") {
  TempDir dir("prepare_bad_gzip");
  const std::string text = make_text(8, 200000);
  write_file(dir.file("good.txt"), text);
  write_gzip_members(dir.file("good.gz"), {text});
  const std::string gz = read_file(dir.file("good.gz"));
  std::string flipped_data = gz, flipped_crc = gz;
  for (size_t i = 100; i < 120; ++i) flipped_data[i] = static_cast<char>(flipped_data[i] ^ 0x5a);
  flipped_crc[gz.size() - 6] = static_cast<char>(flipped_crc[gz.size() - 6] ^ 1);  // CRC-32 of the trailer
  write_file(dir.file("truncated.gz"), gz.substr(0, gz.size() / 2));
  write_file(dir.file("cut_trailer.gz"), gz.substr(0, gz.size() - 3));
  write_file(dir.file("bad_data.gz"), flipped_data);
  write_file(dir.file("bad_crc.gz"), flipped_crc);
  write_file(dir.file("magic_only.gz"), "\x1f\x8b");

  const std::string out = dir.file("out.h5");
  prepare_corpus({dir.file("good.txt")}, out, 0.1);
  const std::string before = read_file(out);
  for (const char* bad : {"truncated.gz", "cut_trailer.gz", "bad_data.gz", "bad_crc.gz", "magic_only.gz"}) {
    INFO(bad);
    for (const bool overwrite : {false, true}) {
      const std::string target = overwrite ? out : dir.file("new.h5");
      const std::string message = user_error_of(
          [&] { prepare_corpus({dir.file("good.txt"), dir.file(bad)}, target, split_options(0.1, 0, overwrite)); });
      INFO(message);
      REQUIRE(message.find(dir.file(bad) + ": damaged or truncated gzip data (zlib: ") == 0);
      REQUIRE(message.find('\n') == std::string::npos);
      REQUIRE(temp_files_of(target).empty());
    }
    REQUIRE_FALSE(fs::exists(dir.file("new.h5")));
    REQUIRE(read_file(out) == before);
  }
  // What zlib says, for the two faults it names plainly.
  REQUIRE(user_error_of([&] { prepare_corpus({dir.file("truncated.gz")}, dir.file("new.h5"), 0.1); })
              .find("unexpected end of file") != std::string::npos);
  REQUIRE(user_error_of([&] { prepare_corpus({dir.file("bad_crc.gz")}, dir.file("new.h5"), 0.1); })
              .find("incorrect data check") != std::string::npos);
}

TEST_CASE("prepare refuses inputs beyond the corpus limit before writing, and bad --val-every", "[corpus]") {
  TempDir dir("prepare_limit");
  write_file(dir.file("a.txt"), std::string(600, 'a'));
  write_file(dir.file("b.txt"), std::string(401, 'b'));
  write_gzip_members(dir.file("big.gz"), {std::string(5000000, 'z')});  // 5 MB of text in a few kB
  PrepareOptions options = split_options(0.1, 0, false);
  options.max_tokens = 1000;
  const std::string out = dir.file("out.h5");
  std::string message = user_error_of([&] { prepare_corpus({dir.file("a.txt"), dir.file("b.txt")}, out, options); });
  REQUIRE(message.find(dir.file("b.txt") + ": the text files up to this one hold more than 1000 bytes") == 0);
  message = user_error_of([&] { prepare_corpus({dir.file("big.gz")}, out, options); });
  REQUIRE(message.find(dir.file("big.gz") + ": the text files up to this one hold more than 1000 bytes") == 0);
  REQUIRE_FALSE(fs::exists(out));
  REQUIRE(temp_files_of(out).empty());
  options.max_tokens = 1001;  // exactly the limit is allowed
  REQUIRE(prepare_corpus({dir.file("a.txt"), dir.file("b.txt")}, out, options).train_tokens == 540 + 361);

  message = user_error_of([&] { prepare_corpus({dir.file("a.txt")}, dir.file("o2.h5"), split_options(0.1, -5)); });
  REQUIRE(message.find("--val-every") != std::string::npos);
  REQUIRE(message.find("-5") != std::string::npos);
  message = user_error_of([&] { prepare_corpus({dir.file("a.txt")}, dir.file("o2.h5"), split_options(0.05, 10)); });
  REQUIRE(message.find("--val-every 10 with --val-fraction 0.05 holds out no byte") != std::string::npos);
  REQUIRE(message.find("at least 20 bytes") != std::string::npos);
  REQUIRE_FALSE(fs::exists(dir.file("o2.h5")));
  // With no validation at all any segment length is fine.
  REQUIRE(prepare_corpus({dir.file("a.txt")}, dir.file("o2.h5"), split_options(0.0, 10)).val_tokens == 0);
}

TEST_CASE("prepare reports its progress through the logger, ending at the whole input", "[corpus][logging]") {
  TempDir dir("prepare_progress");
  write_file(dir.file("a.txt"), make_text(9, 3000000).substr(0, 3000000));
  write_gzip_members(dir.file("b.dz"), {make_text(10, 2000000).substr(0, 2000000)});
  CapturedLog captured;
  PrepareOptions options = split_options(0.05, 0);
  options.log = &captured.log;
  prepare_corpus({dir.file("a.txt"), dir.file("b.dz")}, dir.file("c.h5"), options);
  const std::string log = captured.str();
  INFO(log);
  REQUIRE(log.find("prepare: 1.0 of 5.0 MB read (a.txt)\n") != std::string::npos);
  REQUIRE(log.find("MB read (b.dz)\n") != std::string::npos);
  REQUIRE(std::count(log.begin(), log.end(), '\n') >= 5);  // a line per 1 MiB piece read, here each over a tenth
  REQUIRE(log.substr(log.size() - std::string("prepare: 5.0 of 5.0 MB read (b.dz)\n").size()) ==
          "prepare: 5.0 of 5.0 MB read (b.dz)\n");
}
