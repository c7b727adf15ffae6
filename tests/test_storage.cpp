// Storage layer: the HDF5 wrapper, prepared corpora and batch sampling, the metrics log.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "core/rng.h"
#include "test_data.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"
#include "train/metrics_log.h"

using namespace tg;
using tg::testing::TempDir;
using tg::testing::write_file;
namespace fs = std::filesystem;

namespace {
// Runs `f`, which must throw a UserError whose message contains every fragment.
template <typename F>
void require_user_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      INFO("message: " << message);
      REQUIRE(message.find(fragment) != std::string::npos);
    }
  }
}

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  Tensor t(std::move(shape));
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(rng.normal() * std::exp(8.0 * rng.normal()));
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

// 0, 1, ..., n - 1: a sample's values then say where in the sequence it came from.
std::vector<int32_t> iota_tokens(int32_t n) {
  std::vector<int32_t> v(n);
  for (int32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}
}  // namespace

// ---- HDF5 wrapper -----------------------------------------------------------------

TEST_CASE("H5File round-trips tensors bit-exactly, including scalars and empty tensors", "[hdf5]") {
  TempDir dir("h5_tensor");
  const std::string path = dir.file("t.h5");
  const Tensor a = random_tensor({3, 5, 7}, 1), b = random_tensor({4}, 2), scalar = random_tensor({}, 3);
  const Tensor empty(std::vector<int64_t>{0, 4});
  {
    H5File f = H5File::create(path);
    f.write_tensor("a", a);
    f.write_tensor("x/b", random_tensor({9}, 99));
    f.write_tensor("x/b", b);  // replaces, with a new shape
    f.write_tensor("scalar", scalar);
    f.write_tensor("empty", empty);
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(same_bits(f.read_tensor("a"), a));
  REQUIRE(same_bits(f.read_tensor("/x/b"), b));
  REQUIRE(same_bits(f.read_tensor("scalar"), scalar));
  REQUIRE(f.read_tensor("empty").shape() == std::vector<int64_t>{0, 4});
  REQUIRE(f.shape("a") == std::vector<int64_t>{3, 5, 7});
  REQUIRE(f.shape("scalar").empty());
}

TEST_CASE("H5File round-trips integer datasets and converts tokens to int32", "[hdf5]") {
  TempDir dir("h5_ints");
  const std::string path = dir.file("i.h5");
  const std::vector<int64_t> ints = {0, -1, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 42};
  const std::vector<uint64_t> uints = {0, 1, std::numeric_limits<uint64_t>::max(), 0x9E3779B97F4A7C15ull};
  const std::vector<uint8_t> bytes = {0, 1, 127, 128, 255};
  {
    H5File f = H5File::create(path);
    f.write_ints("ints", ints);
    f.write_uints("state/rng", uints);
    f.write_bytes_u8("bytes", bytes);
    f.write_ints("small", {3, 200, 70000});
    f.write_ints("none", {});
    f.write_tensor("floats", random_tensor({3}, 1));
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(f.read_ints("ints") == ints);
  REQUIRE(f.read_uints("state/rng") == uints);
  REQUIRE(f.read_tokens("bytes") == std::vector<int32_t>{0, 1, 127, 128, 255});
  REQUIRE(f.read_tokens("small") == std::vector<int32_t>{3, 200, 70000});
  REQUIRE(f.read_ints("bytes") == std::vector<int64_t>{0, 1, 127, 128, 255});
  REQUIRE(f.read_ints("none").empty());
  REQUIRE(f.read_doubles("small") == std::vector<double>{3, 200, 70000});
  // Token ids from a float dataset would be silently truncated: refused.
  require_user_error([&] { f.read_tokens("floats"); }, {"i.h5", "/floats", "integer"});
}

TEST_CASE("H5File attributes of every type, on the root, groups and datasets", "[hdf5]") {
  TempDir dir("h5_attr");
  const std::string path = dir.file("a.h5");
  std::string big;
  for (int i = 0; big.size() < 10 * 1024; ++i) big += "{\"key_" + std::to_string(i) + "\": [1, 2, 3]}, ";
  {
    H5File f = H5File::create(path);
    f.set_attr("", "format", std::string("tokengrow-test"));
    f.set_attr("/", "config", big);
    f.set_attr("/", "unicode", std::string("caf\xC3\xA9 \xE2\x86\x92 ok"));
    f.set_attr("/", "empty", std::string());
    f.set_attr("/", "lr", 3e-4);
    f.set_attr("/", "nan", std::nan(""));
    f.set_attr("/", "steps", int64_t{-123456789012345});
    f.set_attr("/", "whole", 3.0);
    f.set_attr("/", "steps", int64_t{1} << 40);  // replaces
    f.write_tensor("model/w", random_tensor({2, 2}, 1));
    f.set_attr("model/w", "tau", 0.5);
    f.set_attr("model", "kind", std::string("group"));
    f.set_attr("new/group", "created", int64_t{1});  // a missing group is created
  }
  const H5File f = H5File::open_read(path);
  REQUIRE(f.get_attr_string("/", "format") == "tokengrow-test");
  REQUIRE(f.get_attr_string("", "config") == big);
  REQUIRE(f.get_attr_string("/", "unicode") == "caf\xC3\xA9 \xE2\x86\x92 ok");
  REQUIRE(f.get_attr_string("/", "empty").empty());
  REQUIRE(f.get_attr_double("/", "lr") == 3e-4);
  REQUIRE(std::isnan(f.get_attr_double("/", "nan")));
  REQUIRE(f.get_attr_int("/", "steps") == int64_t{1} << 40);
  REQUIRE(f.get_attr_double("/", "steps") == std::ldexp(1.0, 40));
  REQUIRE(f.get_attr_int("/", "whole") == 3);
  REQUIRE(f.get_attr_double("model/w", "tau") == 0.5);
  REQUIRE(f.get_attr_string("model", "kind") == "group");
  REQUIRE(f.get_attr_int("new/group", "created") == 1);
  REQUIRE(f.has_attr("/", "lr"));
  REQUIRE_FALSE(f.has_attr("/", "absent"));
  REQUIRE_FALSE(f.has_attr("no/such/object", "lr"));
  require_user_error([&] { f.get_attr_string("/", "absent"); }, {"a.h5", "absent"});
  require_user_error([&] { f.get_attr_int("/", "lr"); }, {"a.h5", "lr", "not an integer"});
  require_user_error([&] { f.get_attr_double("/", "format"); }, {"a.h5", "format", "not a number"});
  require_user_error([&] { f.get_attr_string("/", "lr"); }, {"a.h5", "lr", "not a string"});
}

TEST_CASE("H5File creates nested groups, and exists() and list() see them", "[hdf5]") {
  TempDir dir("h5_nested");
  H5File f = H5File::create(dir.file("n.h5"));
  f.write_tensor("model/layers/0/ffn/keys", random_tensor({2, 3}, 1));
  f.write_tensor("model/layers/0/ffn/values", random_tensor({2, 3}, 2));
  f.write_ints("/model/layers/1/steps", {1});
  for (const char* p : {"", "/", "model", "/model/layers", "model/layers/0/ffn", "model/layers/0/ffn/keys",
                        "model//layers/1/steps/"})
    REQUIRE(f.exists(p));
  for (const char* p : {"absent", "model/layers/2", "model/layers/2/ffn/keys", "model/layers/0/ffn/keys/deeper"})
    REQUIRE_FALSE(f.exists(p));
  REQUIRE(f.list("model/layers") == std::vector<std::string>{"0", "1"});
  REQUIRE(f.list("model/layers/0/ffn") == std::vector<std::string>{"keys", "values"});
  REQUIRE(f.list("") == std::vector<std::string>{"model"});
  require_user_error([&] { f.list("model/layers/0/ffn/keys"); }, {"n.h5", "/model/layers/0/ffn/keys", "not a group"});
  require_user_error([&] { f.read_tensor("model/layers/2/ffn/keys"); }, {"n.h5", "/model/layers/2/ffn/keys", "missing"});
  require_user_error([&] { f.read_tensor("model/layers"); }, {"n.h5", "/model/layers", "not a dataset"});
  // A moved-from file hands its handle over; the new owner keeps working.
  H5File g = std::move(f);
  REQUIRE(g.exists("model/layers/1/steps"));
  REQUIRE(g.path() == dir.file("n.h5"));
}

TEST_CASE("H5File reports missing, non-HDF5 and unwritable files in one line naming the file", "[hdf5]") {
  TempDir dir("h5_errors");
  const std::string missing = dir.file("missing_data.h5"), text = dir.file("notes_data.h5"),
                    empty = dir.file("empty_data.h5");
  write_file(text, "this is plain text, not HDF5\n");
  write_file(empty, "");
  require_user_error([&] { H5File::open_read(missing); }, {"missing_data.h5", "no such file"});
  require_user_error([&] { H5File::open_read(text); }, {"notes_data.h5", "not an HDF5 file"});
  require_user_error([&] { H5File::open_read(empty); }, {"empty_data.h5", "not an HDF5 file"});
  require_user_error([&] { H5File::open_read(dir.path().string()); }, {dir.path().string(), "directory"});
  require_user_error([&] { H5File::create(dir.file("no_dir/out.h5")); }, {"no_dir/out.h5", "does not exist"});
  REQUIRE_FALSE(H5File::is_hdf5(text));
  REQUIRE_FALSE(H5File::is_hdf5(missing));
  H5File::create(dir.file("real.h5"));
  REQUIRE(H5File::is_hdf5(dir.file("real.h5")));
}

TEST_CASE("H5File builds a file in memory whose image opens as the same file", "[hdf5]") {
  TempDir dir("h5_memory");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> many(1000);
  for (size_t i = 0; i < many.size(); ++i) many[i] = 0.25 * static_cast<double>(i);
  many[3] = nan;
  const Tensor t = random_tensor({3, 4}, 1);
  std::vector<char> image;
  {
    H5File f = H5File::create_in_memory("memory.h5", 512);
    f.write_doubles("logs/loss", many);
    f.write_doubles("logs/empty", {});
    f.write_tensor("t", t);
    image = f.image();
  }
  // On disk: the 512-byte user block, then the image.
  write_file(dir.file("x.h5"), std::string(512, 'u') + std::string(image.begin(), image.end()));
  const H5File f = H5File::open_read(dir.file("x.h5"));
  const auto loss = f.read_doubles("logs/loss");
  REQUIRE(loss.size() == 1000);
  REQUIRE(loss[999] == 0.25 * 999);
  REQUIRE(std::isnan(loss[3]));
  REQUIRE(f.read_doubles("logs/empty").empty());
  REQUIRE(same_bits(f.read_tensor("t"), t));
}

TEST_CASE("h5py reads sealed files, and string attributes back as str", "[hdf5][seal]") {
  // Debian's python3-h5py lives in the system interpreter, which a pyenv or venv
  // python3 earlier on PATH may hide.
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (std::system((std::string(candidate) + " -c 'import h5py' >/dev/null 2>&1").c_str()) == 0) {
      python = candidate;
      break;
    }
  if (python.empty()) {
    WARN("no python3 with h5py; skipped");
    return;
  }
  TempDir dir("h5py");
  const std::string path = dir.file("s.h5");
  write_sealed(path, "corpus", [](H5File& f) {
    f.set_attr("/", "format", std::string("tokengrow-corpus"));
    f.write_bytes_u8("train", {1, 2, 3});
  });
  const std::string script = "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); a = f.attrs['format']; "
                             "sys.exit(0 if isinstance(a, str) and a == 'tokengrow-corpus' and "
                             "f['train'].dtype == 'uint8' else 1)";
  REQUIRE(std::system((python + " -c \"" + script + "\" '" + path + "'").c_str()) == 0);
}

// ---- corpora ----------------------------------------------------------------------

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

// ---- metrics log ------------------------------------------------------------------

namespace {
MetricsRow row(int64_t step, double val_loss) {
  MetricsRow r;
  r.step = step;
  r.tokens = step * 4096;
  r.flops = 1.25e15 * static_cast<double>(step);
  r.train_loss = 3.0 - 0.01 * static_cast<double>(step);
  r.val_loss = val_loss;
  r.val_ppl = std::exp(val_loss);
  r.lr = 3e-4;
  r.wall_s = 0.5 * static_cast<double>(step);
  r.n_params = 123456789;
  r.stage = step / 20;
  r.skipped_steps = step / 7;
  r.rollbacks = step / 25;
  return r;
}

void require_equal(const MetricsRow& a, const MetricsRow& b) {
  REQUIRE(a.step == b.step);
  REQUIRE(a.tokens == b.tokens);
  REQUIRE(a.flops == b.flops);
  REQUIRE(a.train_loss == b.train_loss);
  REQUIRE((a.val_loss == b.val_loss || (std::isnan(a.val_loss) && std::isnan(b.val_loss))));
  REQUIRE((a.val_ppl == b.val_ppl || (std::isnan(a.val_ppl) && std::isnan(b.val_ppl))));
  REQUIRE(a.lr == b.lr);
  REQUIRE(a.wall_s == b.wall_s);
  REQUIRE(a.n_params == b.n_params);
  REQUIRE(a.stage == b.stage);
  REQUIRE(a.skipped_steps == b.skipped_steps);
  REQUIRE(a.rollbacks == b.rollbacks);
}
}  // namespace

TEST_CASE("MetricsLog appends rows, preserves NaN and continues after reopening and after compaction",
          "[metrics]") {
  TempDir dir("metrics");
  const std::string path = dir.file("metrics.h5");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<MetricsRow> rows = {row(0, 3.5), row(10, nan), row(20, 2.75), row(30, nan)};
  {
    MetricsLog log(path);
    for (int i = 0; i < 3; ++i) log.append(rows[i]);
    const auto back = log.read();
    REQUIRE(back.size() == 3);
    for (int i = 0; i < 3; ++i) require_equal(back[i], rows[i]);
    REQUIRE(std::isnan(back[1].val_loss));
    REQUIRE(fs::exists(dir.file("metrics.journal")));
    REQUIRE_FALSE(fs::exists(path));  // written when the run ends (compact)
  }
  MetricsLog reopened(path);
  reopened.append(rows[3]);
  reopened.compact();
  REQUIRE_FALSE(fs::exists(dir.file("metrics.journal")));
  REQUIRE(H5File::open_read(path).get_attr_string("/", "format") == "tokengrow-metrics");
  REQUIRE(H5File::open_read(path).read_doubles("val_loss").size() == 4);
  const auto back = MetricsLog(path).read();
  REQUIRE(back.size() == 4);
  for (int i = 0; i < 4; ++i) require_equal(back[i], rows[i]);

  // A compacted log goes on: the journal starts as a copy of metrics.h5.
  MetricsLog resumed(path);
  resumed.truncate_after(10);
  REQUIRE(resumed.read().size() == 2);
  resumed.append(rows[2]);
  require_equal(resumed.read().back(), rows[2]);
  REQUIRE(MetricsLog(path).read().size() == 3);
}

TEST_CASE("A metrics row cut short by a kill leaves the rows before it, and the next append replaces it",
          "[metrics]") {
  TempDir dir("metrics_crash");
  const std::string path = dir.file("metrics.h5"), journal = dir.file("metrics.journal");
  {
    MetricsLog log(path);
    log.append(row(0, 3.0));
    log.append(row(10, 2.5));
  }
  // Half of a third row, as a kill in the middle of its write leaves it.
  const std::string whole = testing::read_file(journal);
  const size_t row_bytes = (whole.size() - 512) / 2;
  write_file(journal, whole + whole.substr(whole.size() - row_bytes, row_bytes / 2));
  REQUIRE(metrics_journal_problem(journal).empty());  // recoverable
  REQUIRE(MetricsLog(path).read().size() == 2);
  MetricsLog resumed(path);
  resumed.append(row(20, 2.0));
  REQUIRE(fs::file_size(journal) == whole.size() + row_bytes);
  const auto back = MetricsLog(path).read();
  REQUIRE(back.size() == 3);
  require_equal(back[2], row(20, 2.0));
  // A compaction that dies before publication leaves only a partial temporary file of
  // its own name; the next compaction writes under another and never reads it.
  write_file(path + ".k1ll3d.tmp", "partial HDF5 bytes");
  resumed.compact();
  REQUIRE(MetricsLog(path).read().size() == 3);
  REQUIRE(temp_files_of(path) == std::vector<std::string>{path + ".k1ll3d.tmp"});
}

TEST_CASE("A metrics row costs the same bytes written however many rows came before it", "[metrics]") {
  TempDir dir("metrics_cost");
  const std::string path = dir.file("metrics.h5"), journal = dir.file("metrics.journal");
  MetricsLog log(path);
  log.append(row(0, 3.0));  // creates the journal
  // Bytes this process hands to write(2) (/proc/self/io wchar) per append, and the
  // growth of every file in the directory.
  auto written = [] {
    const std::string io = testing::read_file("/proc/self/io");
    return std::stoll(io.substr(io.find("wchar: ") + 7));
  };
  auto dir_bytes = [&] {
    uintmax_t total = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) total += fs::file_size(e.path());
    return total;
  };
  std::vector<long long> per_row_written;
  std::set<uintmax_t> per_row_growth;
  for (int64_t i = 1; i <= 300; ++i) {
    const long long w0 = written();
    const uintmax_t s0 = dir_bytes();
    log.append(row(i, 2.0));
    per_row_written.push_back(written() - w0);
    per_row_growth.insert(dir_bytes() - s0);
  }
  log.sync();
  // 13 float64 and a CRC-32, row 1 as row 300. wchar counts every write(2) of the
  // process, not only ours: CI once saw one row 32 bytes larger (a write from
  // elsewhere in the process). So: nearly every row costs exactly 108 bytes, and no row
  // costs as much as rewriting three earlier rows would (row 300 rewriting the journal
  // would cost 30 kB).
  REQUIRE(std::count(per_row_written.begin(), per_row_written.end(), 108) >= 290);
  REQUIRE(*std::min_element(per_row_written.begin(), per_row_written.end()) == 108);
  REQUIRE(*std::max_element(per_row_written.begin(), per_row_written.end()) < 324);
  REQUIRE(per_row_growth == std::set<uintmax_t>{108});
  REQUIRE(fs::file_size(journal) == 512 + 301 * 108);
}

TEST_CASE("MetricsLog refuses files that are not metrics logs", "[metrics]") {
  TempDir dir("metrics_bad");
  TempDir corpus_dir("metrics_bad_corpus");
  const std::string corpus = testing::make_corpus(corpus_dir, 1000);
  require_user_error([&] { MetricsLog(corpus).read(); }, {"corpus.h5", "a tokengrow corpus, not a metrics"});
  require_user_error([&] { MetricsLog(corpus).append(row(0, 1.0)); }, {"corpus.h5", "a tokengrow corpus, not a metrics"});
  write_sealed(dir.file("unformatted.h5"), "metrics", [](H5File& f) { f.write_ints("x", {1}); });
  require_user_error([&] { MetricsLog(dir.file("unformatted.h5")).read(); },
                     {"unformatted.h5", "not a tokengrow metrics file"});
  require_user_error([&] { MetricsLog(dir.file("absent.h5")).read(); }, {"absent.h5", "no such file"});
  // Journals: another file under the name, and a damaged row with sound rows after it.
  write_file(dir.file("other.journal"), std::string(600, 'x'));
  require_user_error([&] { MetricsLog(dir.file("other.h5")).read(); },
                     {"other.journal", "not a tokengrow metrics journal with 104-byte records"});
  {
    MetricsLog log(dir.file("m.h5"));
    for (int64_t i = 0; i < 3; ++i) log.append(row(i, 1.0));
  }
  std::string bytes = testing::read_file(dir.file("m.journal"));
  bytes[512 + 108 + 7] ^= 0x10;
  write_file(dir.file("m.journal"), bytes);
  require_user_error([&] { MetricsLog(dir.file("m.h5")).read(); },
                     {"m.journal", "damaged: record 1 of 3 fails its checksum but later records do not"});
  require_user_error([&] { MetricsLog(dir.file("m.h5")).append(row(9, 1.0)); }, {"m.journal", "damaged: record 1"});
}
