// data/: the byte tokenizer, prepared corpora (prepare_corpus, load_corpus), batch
// sampling and evaluation windows.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"
#include "test_data.h"
#include "user_error_check.h"

using namespace tg;
using namespace tg::testing;
namespace fs = std::filesystem;

namespace {
// 0, 1, ..., n - 1: a sample's values then say where in the sequence it came from.
std::vector<int32_t> iota_tokens(int32_t n) {
  std::vector<int32_t> v(n);
  for (int32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}
}  // namespace

TEST_CASE("byte tokenizer round-trips every byte", "[corpus]") {
  std::string text;
  for (int b = 0; b < 256; ++b) text += static_cast<char>(b);
  const auto tokens = tokenize_bytes(text);
  REQUIRE(tokens.size() == 256);
  for (int b = 0; b < 256; ++b) REQUIRE(tokens[b] == b);
  REQUIRE(detokenize_bytes(tokens) == text);
}

TEST_CASE("prepare_corpus splits off the last val_fraction of each file and round-trips the bytes", "[corpus]") {
  TempDir dir("corpus_prepare");
  const std::string part1 = testing::make_text(1, 5000);
  std::string part2 = testing::make_text(2, 3001);
  for (char byte : {'\xFF', '\0', '\x80'}) part2 += byte;  // non-ASCII and NUL bytes survive too
  write_file(dir.file("a.txt"), part1);
  write_file(dir.file("b.txt"), part2);
  const std::string out = dir.file("corpus.h5");

  const CorpusInfo info = prepare_corpus({dir.file("a.txt"), dir.file("b.txt")}, out, 0.1);
  // Each file is a document: its own last tenth is validation.
  const int64_t n = static_cast<int64_t>(part1.size() + part2.size());
  const size_t val1 = static_cast<size_t>(std::floor(0.1 * static_cast<double>(part1.size())));
  const size_t val2 = static_cast<size_t>(std::floor(0.1 * static_cast<double>(part2.size())));
  const int64_t n_val = static_cast<int64_t>(val1 + val2);
  REQUIRE(info.tokenizer.kind == "bytes");
  REQUIRE(info.vocab_size == 256);
  REQUIRE(info.val_tokens == n_val);
  REQUIRE(info.train_tokens == n - n_val);
  REQUIRE(temp_files_of(out).empty());

  const Corpus c = load_corpus(out);
  REQUIRE(c.info.train_tokens == info.train_tokens);
  REQUIRE(c.info.val_tokens == info.val_tokens);
  REQUIRE(c.info.vocab_size == 256);
  REQUIRE(detokenize_bytes(c.train) ==
          part1.substr(0, part1.size() - val1) + part2.substr(0, part2.size() - val2));
  REQUIRE(detokenize_bytes(c.val) == part1.substr(part1.size() - val1) + part2.substr(part2.size() - val2));

  const H5File f = H5File::open_read(out);
  REQUIRE(f.get_attr_string("/", "format") == "tokengrow-corpus");
  REQUIRE(f.get_attr_int("/", "format_version") == 3);
  REQUIRE(f.get_attr_string("/", "tokenizer") == "bytes");
  REQUIRE(f.get_attr_int("/", "vocab_size") == 256);
  REQUIRE(nlohmann::json::parse(f.get_attr_string("/", "sources")) ==
          nlohmann::json::array({dir.file("a.txt"), dir.file("b.txt")}));
  REQUIRE(f.get_attr_string("/", "val_rule") == "last 0.1 of each file");

  // No validation split is allowed; overwrite replaces the old corpus.
  REQUIRE(prepare_corpus({dir.file("a.txt")}, out, 0.0, true).val_tokens == 0);
  const Corpus all_train = load_corpus(out);
  REQUIRE(all_train.val.empty());
  REQUIRE(detokenize_bytes(all_train.train) == part1);
}

TEST_CASE("prepare_corpus rejects bad inputs and leaves no output behind", "[corpus]") {
  TempDir dir("corpus_bad");
  write_file(dir.file("t.txt"), "some text\n");
  write_file(dir.file("empty.txt"), "");
  const std::string out = dir.file("out.h5");
  require_user_error([&] { prepare_corpus({dir.file("t.txt")}, out, 0.9); }, {"--val-fraction", "0.9"});
  require_user_error([&] { prepare_corpus({dir.file("t.txt")}, out, -0.1); }, {"--val-fraction"});
  require_user_error([&] { prepare_corpus({dir.file("t.txt"), dir.file("absent_text.txt")}, out, 0.1); },
                     {"absent_text.txt", "no such file"});
  require_user_error([&] { prepare_corpus({dir.path().string()}, out, 0.1); }, {dir.path().string()});
  require_user_error([&] { prepare_corpus({dir.file("empty.txt")}, out, 0.1); }, {"empty"});
  require_user_error([&] { prepare_corpus({dir.file("t.txt")}, dir.file("no_dir/out.h5"), 0.1); }, {"no_dir"});
  REQUIRE_FALSE(fs::exists(out));
  REQUIRE(temp_files_of(out).empty());

  // A failed run leaves an existing corpus untouched.
  prepare_corpus({dir.file("t.txt")}, out, 0.0);
  require_user_error([&] { prepare_corpus({dir.file("absent_text.txt")}, out, 0.1, true); }, {"absent_text.txt"});
  REQUIRE(detokenize_bytes(load_corpus(out).train) == "some text\n");
  REQUIRE(temp_files_of(out).empty());
}

TEST_CASE("prepare_corpus never replaces its own input, nor an existing file unless told to", "[corpus]") {
  TempDir dir("corpus_out");
  write_file(dir.file("t.txt"), "some text\n");
  write_file(dir.file("u.txt"), "other text\n");
  const std::string out = dir.file("out.h5");
  prepare_corpus({dir.file("t.txt")}, out, 0.0);
  const std::string before = testing::read_file(out);
  require_user_error([&] { prepare_corpus({dir.file("u.txt")}, out, 0.0); },
                     {"out.h5: already exists", "unless given --force"});
  REQUIRE(testing::read_file(out) == before);
  // Its own input, under the same name, another spelling or a hard link: refused even with overwrite.
  fs::create_hard_link(dir.file("u.txt"), dir.file("u_link.txt"));
  const std::string dotted = (dir.path() / "." / "u.txt").string();
  // (A named pair, not a structured binding: clang 14 cannot capture bindings in a lambda.)
  for (const auto& inputs_and_target : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{dir.file("t.txt"), dir.file("u.txt")}, dir.file("u.txt")},
           {{dir.file("t.txt")}, (dir.path() / "." / "t.txt").string()},
           {{dotted}, dir.file("u_link.txt")}}) {
    require_user_error([&] { prepare_corpus(inputs_and_target.first, inputs_and_target.second, 0.0, true); },
                       {"is also an input", "own input"});
  }
  REQUIRE(testing::read_file(dir.file("u.txt")) == "other text\n");
  REQUIRE(testing::read_file(dir.file("t.txt")) == "some text\n");
  // With overwrite, an existing corpus is replaced.
  prepare_corpus({dir.file("u.txt")}, out, 0.0, true);
  REQUIRE(detokenize_bytes(load_corpus(out).train) == "other text\n");
}

TEST_CASE("load_corpus rejects files that are not tokengrow corpora", "[corpus]") {
  TempDir dir("corpus_load");
  { H5File::create(dir.file("other.h5")).write_ints("x", {1}); }
  write_file(dir.file("text.h5"), "hello");
  require_user_error([&] { load_corpus(dir.file("other.h5")); },
                     {"other.h5", "HDF5 file without a tokengrow seal", "expected a tokengrow corpus"});
  require_user_error([&] { load_corpus(dir.file("text.h5")); }, {"text.h5", "not a tokengrow corpus", "not HDF5"});
  require_user_error([&] { load_corpus(dir.file("absent.h5")); }, {"absent.h5", "no such file"});
  write_sealed(dir.file("no_val.h5"), "corpus", [](H5File& f) {
    f.set_attr("/", "format", std::string("tokengrow-corpus"));
    f.set_attr("/", "tokenizer", std::string("bytes"));
    f.set_attr("/", "vocab_size", int64_t{256});
    f.write_bytes_u8("train", {1, 2, 3});
  });
  require_user_error([&] { load_corpus(dir.file("no_val.h5")); }, {"no_val.h5", "/val"});
  write_sealed(dir.file("metrics_kind.h5"), "metrics", [](H5File& f) { f.write_ints("x", {1}); });
  require_user_error([&] { load_corpus(dir.file("metrics_kind.h5")); },
                     {"metrics_kind.h5", "a tokengrow metrics, not a corpus"});
}

TEST_CASE("BatchSampler draws deterministic in-range windows with shifted targets", "[corpus]") {
  const int32_t n = 50;
  const int64_t batch = 4, seq = 8;
  const auto tokens = iota_tokens(n);
  BatchSampler a(&tokens, batch, seq, 7), b(&tokens, batch, seq, 7), other(&tokens, batch, seq, 8);
  std::vector<int32_t> in_a, tg_a, in_b, tg_b, in_o, tg_o;
  std::set<int32_t> starts;
  bool differs = false;
  for (int step = 0; step < 500; ++step) {
    a.next(in_a, tg_a);
    b.next(in_b, tg_b);
    other.next(in_o, tg_o);
    REQUIRE(in_a == in_b);
    REQUIRE(tg_a == tg_b);
    differs = differs || in_a != in_o;
    REQUIRE(in_a.size() == static_cast<size_t>(batch * seq));
    REQUIRE(tg_a.size() == in_a.size());
    for (int64_t r = 0; r < batch; ++r) {
      const int32_t start = in_a[r * seq];
      starts.insert(start);
      REQUIRE(start >= 0);
      REQUIRE(start <= n - seq - 1);
      for (int64_t j = 0; j < seq; ++j) {
        REQUIRE(in_a[r * seq + j] == start + j);  // a contiguous window
        REQUIRE(tg_a[r * seq + j] == start + j + 1);  // targets = inputs shifted by one
      }
    }
  }
  REQUIRE(differs);
  // Every offset, including the last one, is drawn.
  REQUIRE(starts.size() == static_cast<size_t>(n - seq));
}

TEST_CASE("BatchSampler state save and restore continues the same stream", "[corpus]") {
  const auto tokens = iota_tokens(1000);
  BatchSampler a(&tokens, 2, 16, 3);
  std::vector<int32_t> in, tg, in_ref, tg_ref;
  for (int i = 0; i < 5; ++i) a.next(in, tg);
  const auto saved = a.rng_state();
  std::vector<std::vector<int32_t>> expected;
  for (int i = 0; i < 5; ++i) {
    a.next(in_ref, tg_ref);
    expected.push_back(in_ref);
  }
  BatchSampler resumed(&tokens, 2, 16, 12345);
  resumed.set_rng_state(saved);
  for (int i = 0; i < 5; ++i) {
    resumed.next(in, tg);
    REQUIRE(in == expected[i]);
  }
}

TEST_CASE("BatchSampler refuses a split shorter than one window", "[corpus]") {
  const auto exact = iota_tokens(9), short_split = iota_tokens(8);
  BatchSampler ok(&exact, 1, 8, 0);  // exactly seq_len + 1 tokens: one possible window
  std::vector<int32_t> in, tg;
  ok.next(in, tg);
  REQUIRE(in == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7});
  REQUIRE(tg == std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8});
  require_user_error([&] { BatchSampler(&short_split, 1, 8, 0); }, {"8 tokens", "9"});
}

TEST_CASE("evaluation windows are consecutive, non-overlapping and drop the partial tail", "[corpus]") {
  REQUIRE(window_count(11, 3) == 2);
  REQUIRE(window_count(12, 3) == 3);
  REQUIRE(window_count(3, 3) == 0);
  REQUIRE(window_count(0, 3) == 0);
  const auto tokens = iota_tokens(11);  // windows {0..3}, {4..7}; 8, 9, 10 dropped
  std::vector<int32_t> in, tg;
  window_batch(tokens, 3, 0, 2, in, tg);
  REQUIRE(in == std::vector<int32_t>{0, 1, 2, 4, 5, 6});
  REQUIRE(tg == std::vector<int32_t>{1, 2, 3, 5, 6, 7});
  window_batch(tokens, 3, 1, 1, in, tg);
  REQUIRE(in == std::vector<int32_t>{4, 5, 6});
  REQUIRE(tg == std::vector<int32_t>{5, 6, 7});
  window_batch(tokens, 3, 2, 0, in, tg);
  REQUIRE(in.empty());
  REQUIRE_THROWS_AS(window_batch(tokens, 3, 1, 2, in, tg), std::out_of_range);
}
