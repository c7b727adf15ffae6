// Subword tokenizers: SentencePiece models trained by prepare, stored in corpora and
// checkpoints, and bits per byte on one scale for every tokenizer.
#include <hdf5.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "cli_run.h"
#include "core/hdf5_file.h"
#include "core/record_journal.h"
#include "core/sealed_file.h"
#include "test_data.h"
#include "train/checkpoint.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"
#include "train/evaluate.h"
#include "train/metrics_log.h"
#include "data/tokenizer.h"
#include "train/trainer.h"

using namespace tg;
using namespace tg::testing;

namespace {
// Words built from syllables, a few with multi-byte UTF-8 letters and digits, in
// lines of varying length: enough variety for a few hundred BPE merges.
std::string make_word_text(uint64_t seed, size_t min_bytes) {
  const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pra", "dul", "ost", "én", "ü"};
  Rng rng(seed);
  std::vector<std::string> words;
  for (int w = 0; w < 300; ++w) {
    std::string word;
    for (uint64_t s = 0, n = 1 + rng.below(3); s < n; ++s) word += syllables[rng.below(14)];
    words.push_back(word);
  }
  std::string text;
  while (text.size() < min_bytes) {
    for (uint64_t i = 0, n = 3 + rng.below(12); i < n; ++i) {
      // Zipf-like: low indices far more often.
      const uint64_t index = rng.below(1 + rng.below(300));
      text += words[index];
      text += rng.below(20) == 0 ? ", " : " ";
    }
    if (rng.below(10) == 0) text += std::to_string(rng.below(1000));
    text += ".\n";
  }
  return text;
}

PrepareOptions subword_options(const std::string& kind, int64_t vocab, double val_fraction = 0.1) {
  PrepareOptions options;
  options.val_fraction = val_fraction;
  options.train_tokenizer = TokenizerTraining{kind, vocab};
  return options;
}

int64_t sum_bytes(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  int64_t bytes = 0;
  for (int32_t id : ids) bytes += tokenizer.bytes_per_id()[id];
  return bytes;
}

size_t dataset_type_bytes(const std::string& path, const std::string& dataset) {
  const H5File file = open_sealed(path, "corpus");
  (void)file;
  // The sealed file's HDF5 image starts after its user block, which HDF5 skips itself.
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
  const hid_t t = H5Dget_type(d);
  const size_t bytes = H5Tget_size(t);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
  return bytes;
}

void expect_error(const CliResult& r, const std::string& needle) {
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 2);
  REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  REQUIRE(r.err.find(needle) != std::string::npos);
}
}  // namespace

TEST_CASE("A BPE corpus: uint16 ids below its vocabulary, decoding gives the text back, the ids' bytes sum to "
          "the text's", "[tokenizer][corpus]") {
  TempDir dir("bpe_corpus");
  // 700 kB: the training part is encoded in several 256 KiB pieces, batched and in parallel.
  const std::string text = make_word_text(1, 700000);
  write_file(dir.file("text.txt"), text);
  const CorpusInfo info = prepare_corpus({dir.file("text.txt")}, dir.file("bpe.h5"), subword_options("bpe", 400));
  REQUIRE(info.tokenizer.kind == "bpe");
  REQUIRE(info.vocab_size == 400);
  const Corpus corpus = load_corpus(dir.file("bpe.h5"));
  REQUIRE(corpus.tokenizer.vocab_size() == 400);
  REQUIRE(dataset_type_bytes(dir.file("bpe.h5"), "train") == 2);
  const size_t val_bytes = static_cast<size_t>(std::floor(static_cast<double>(text.size()) * 0.1));
  const std::string train_text = text.substr(0, text.size() - val_bytes), val_text = text.substr(text.size() - val_bytes);
  REQUIRE(corpus.tokenizer.decode(corpus.train) == train_text);
  REQUIRE(corpus.tokenizer.decode(corpus.val) == val_text);
  REQUIRE(corpus.info.train_text_bytes == static_cast<int64_t>(train_text.size()));
  REQUIRE(sum_bytes(corpus.tokenizer, corpus.train) == static_cast<int64_t>(train_text.size()));
  REQUIRE(sum_bytes(corpus.tokenizer, corpus.val) == static_cast<int64_t>(val_text.size()));
  // The ids of the streamed encoding (pieces of about 1 MiB at line ends) are those of
  // encoding the split whole; and BPE compresses this text.
  REQUIRE(corpus.tokenizer.encode(val_text) == corpus.val);
  const std::vector<int32_t> head = corpus.tokenizer.encode(train_text.substr(0, train_text.find('\n', 300000) + 1));
  REQUIRE(std::equal(head.begin(), head.end(), corpus.train.begin()));  // past the first 256 KiB piece
  // Tokenizer::encode takes a long text in pieces at line ends: the ids of the whole.
  const std::string long_text = train_text + train_text;  // 1.26 MB, past the 1 MiB piece
  const size_t cut = long_text.find('\n', 600000) + 1;
  std::vector<int32_t> halves = corpus.tokenizer.encode(std::string_view(long_text).substr(0, cut));
  const std::vector<int32_t> rest = corpus.tokenizer.encode(std::string_view(long_text).substr(cut));
  halves.insert(halves.end(), rest.begin(), rest.end());
  REQUIRE(corpus.tokenizer.encode(long_text) == halves);
  REQUIRE(static_cast<double>(train_text.size()) / static_cast<double>(corpus.train.size()) > 2.0);
  // Bytes that are not UTF-8 (Latin-1, a character cut in two) come back too, as byte pieces.
  const std::string latin1 = "caf\xE9 na\xEFve \xFF\xC3 a\xE2\x96\x81" "b \xE2\x96\x81 end\n";  // and literal U+2581
  const std::vector<int32_t> ids = corpus.tokenizer.encode(latin1);
  REQUIRE(corpus.tokenizer.decode(ids) == latin1);
  REQUIRE(sum_bytes(corpus.tokenizer, ids) == static_cast<int64_t>(latin1.size()));
  // A byte corpus stays uint8.
  prepare_corpus({dir.file("text.txt")}, dir.file("bytes.h5"), 0.1);
  REQUIRE(dataset_type_bytes(dir.file("bytes.h5"), "train") == 1);
}

TEST_CASE("A unigram corpus round-trips its text too, large vocabularies are refused by SentencePiece with the reason",
          "[tokenizer][corpus]") {
  TempDir dir("unigram_corpus");
  const std::string text = make_word_text(2, 120000);
  write_file(dir.file("text.txt"), text);
  prepare_corpus({dir.file("text.txt")}, dir.file("uni.h5"), subword_options("unigram", 500, 0.05));
  const Corpus corpus = load_corpus(dir.file("uni.h5"));
  REQUIRE(corpus.info.tokenizer.kind == "unigram");
  const std::string decoded = corpus.tokenizer.decode(corpus.train) + corpus.tokenizer.decode(corpus.val);
  size_t at = 0;
  while (at < decoded.size() && at < text.size() && decoded[at] == text[at]) ++at;
  INFO("first difference at " << at << " of " << text.size() << "/" << decoded.size() << ": [" << text.substr(at, 20) << "] vs [" << decoded.substr(at, 20) << "]");
  REQUIRE(decoded == text);
  REQUIRE(sum_bytes(corpus.tokenizer, corpus.train) + sum_bytes(corpus.tokenizer, corpus.val) ==
          static_cast<int64_t>(text.size()));
  const std::string message = error_of(
      [&] { prepare_corpus({dir.file("text.txt")}, dir.file("huge.h5"), subword_options("unigram", 200000)); });
  REQUIRE(message.find("SentencePiece could not train a unigram tokenizer of 200000 pieces") != std::string::npos);
  REQUIRE_FALSE(std::filesystem::exists(dir.file("huge.h5")));
}

TEST_CASE("The tokenizer trains on an even sample of the training text, never on validation text",
          "[tokenizer][corpus]") {
  TempDir dir("tokenizer_sample");
  // The held-out tail repeats one word that the training part never has: a tokenizer
  // that saw it would spend merges on it.
  std::string text = make_word_text(3, 100000);
  const size_t train_bytes = text.size();
  std::string tail;
  while (tail.size() < train_bytes / 4) tail += "zyzzogeton zyzzogeton zyzzogeton.\n";
  text += tail;
  write_file(dir.file("text.txt"), text);
  const double val_fraction = static_cast<double>(tail.size()) / static_cast<double>(text.size()) + 1e-9;
  CapturedLog log;
  PrepareOptions options = subword_options("bpe", 600, val_fraction);
  options.tokenizer_sample_bytes = 30000;
  options.log = &log.log;
  prepare_corpus({dir.file("text.txt")}, dir.file("c.h5"), options);
  const Corpus corpus = load_corpus(dir.file("c.h5"));
  REQUIRE(corpus.tokenizer.decode(corpus.val) == tail);
  for (int32_t id = 0; id < corpus.tokenizer.vocab_size(); ++id)
    REQUIRE(corpus.tokenizer.decode({id}).find("zyzz") == std::string::npos);
  // About 30000 bytes of lines, spread over the text: sampled, not its first 30 kB.
  INFO(log.str());
  const size_t at = log.str().find("pieces on ");
  REQUIRE(at != std::string::npos);
  const int64_t kept = std::stoll(log.str().substr(at + 10));
  REQUIRE(kept >= 29000);
  REQUIRE(kept <= 30200);
}

TEST_CASE("prepare --tokenizer-model reuses a SentencePiece model, bad tokenizer flags get one clear error",
          "[tokenizer][cli][errors]") {
  TempDir dir("tokenizer_model");
  write_file(dir.file("a.txt"), make_word_text(4, 60000));
  write_file(dir.file("b.txt"), make_word_text(5, 30000));
  REQUIRE(cli({"prepare", "--text", dir.file("a.txt"), "--out", dir.file("a.h5"), "--tokenizer", "bpe",
               "--vocab-size", "300"}).code == 0);
  const Corpus a = load_corpus(dir.file("a.h5"));
  write_file(dir.file("a.model"), a.info.tokenizer.model);
  const auto r = cli({"prepare", "--text", dir.file("b.txt"), "--out", dir.file("b.h5"), "--tokenizer-model",
                      dir.file("a.model")});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const Corpus b = load_corpus(dir.file("b.h5"));
  REQUIRE(b.info.tokenizer == a.info.tokenizer);
  REQUIRE(b.train == a.tokenizer.encode(read_file(dir.file("b.txt")).substr(0, b.info.train_text_bytes)));

  const std::string text = dir.file("b.txt"), out = dir.file("x.h5");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--tokenizer", "unigram", "--tokenizer-model",
                    dir.file("a.model")}),
               "--tokenizer unigram: " + dir.file("a.model") + " is a bpe model");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--vocab-size", "512", "--tokenizer-model",
                    dir.file("a.model")}),
               "has 300 pieces");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--tokenizer-model", text}), "not a SentencePiece model");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--tokenizer", "bpe"}), "--tokenizer bpe needs --vocab-size");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--tokenizer", "bpe", "--vocab-size", "100"}),
               "--vocab-size must be in [260, 4194304]");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--tokenizer", "wordpiece", "--vocab-size", "300"}),
               "--tokenizer must be bytes, bpe or unigram, got \"wordpiece\"");
  expect_error(cli({"prepare", "--text", text, "--out", out, "--vocab-size", "300"}),
               "the bytes tokenizer's vocabulary is always 256");
  REQUIRE_FALSE(std::filesystem::exists(out));
}

TEST_CASE("Byte corpora of format version 2 still load, their text bytes equal to their tokens", "[tokenizer][corpus]") {
  TempDir dir("corpus_v2");
  write_sealed(dir.file("v2.h5"), "corpus", [](H5File& f) {
    f.set_attr("/", "format", std::string("tokengrow-corpus"));
    f.set_attr("/", "format_version", int64_t{2});
    f.set_attr("/", "tokenizer", std::string("bytes"));
    f.set_attr("/", "vocab_size", int64_t{256});
    f.write_bytes_u8("train", {104, 105, 10});
    f.write_bytes_u8("val", {33});
  });
  const Corpus c = load_corpus(dir.file("v2.h5"));
  REQUIRE(c.info.tokenizer == TokenizerSpec{});
  REQUIRE(detokenize_bytes(c.train) == "hi\n");
  REQUIRE(c.info.train_text_bytes == 3);
  REQUIRE(c.info.val_text_bytes == 1);
  // A subword kind without its model, and a vocab_size that is not the model's, are refused.
  write_sealed(dir.file("nomodel.h5"), "corpus", [](H5File& f) {
    f.set_attr("/", "format", std::string("tokengrow-corpus"));
    f.set_attr("/", "format_version", int64_t{3});
    f.set_attr("/", "tokenizer", std::string("bpe"));
    f.set_attr("/", "vocab_size", int64_t{512});
    f.write_bytes_u8("train", {1});
    f.write_bytes_u8("val", {1});
  });
  REQUIRE(error_of([&] { load_corpus(dir.file("nomodel.h5")); }).find("unknown tokenizer \"bpe\" without a model") !=
          std::string::npos);
}

TEST_CASE("A model trained on a BPE corpus carries its tokenizer: eval --text, sample and inspect use it, "
          "bits per byte are the nats over ln 2 times the decoded targets' bytes",
          "[tokenizer][cli][trainer]") {
  TempDir dir("bpe_train");
  const std::string text = make_word_text(6, 150000);
  write_file(dir.file("text.txt"), text);
  prepare_corpus({dir.file("text.txt")}, dir.file("bpe.h5"), subword_options("bpe", 400));
  const Corpus corpus = load_corpus(dir.file("bpe.h5"));
  RunConfig rc = small_run(dir.file("bpe.h5"), 20);
  rc.model.vocab_size = 400;
  CapturedLog log;
  Engine engine(2);
  Trainer(rc, engine, log).run(dir.file("run"));
  const std::string ckpt = dir.file("run/latest.h5");

  TrainState state;
  load_model(ckpt, &state);
  REQUIRE(state.tokenizer == corpus.info.tokenizer);
  REQUIRE(state.tokenizer_vocab_size == 400);
  const auto inspect = cli({"inspect", ckpt});
  REQUIRE(inspect.out.find("tokenizer: bpe (vocab 400)") != std::string::npos);

  // eval --text of the validation text is eval --data of the validation split.
  const size_t val_bytes = static_cast<size_t>(std::floor(static_cast<double>(text.size()) * 0.1));
  write_file(dir.file("val.txt"), text.substr(text.size() - val_bytes));
  const auto on_text = cli({"eval", "--ckpt", ckpt, "--text", dir.file("val.txt"), "--json"});
  const auto on_data = cli({"eval", "--ckpt", ckpt, "--data", dir.file("bpe.h5"), "--json"});
  INFO(on_text.err << on_data.err);
  REQUIRE(on_text.code == 0);
  REQUIRE(on_data.code == 0);
  const auto t = nlohmann::json::parse(on_text.out), d = nlohmann::json::parse(on_data.out);
  REQUIRE(t["loss"].get<double>() == d["loss"].get<double>());
  REQUIRE(t["tokens"] == d["tokens"]);
  // The bytes of the targets, by decoding each window's targets.
  const int64_t seq = rc.model.seq_len, windows = d["windows"].get<int64_t>();
  int64_t decoded_bytes = 0;
  for (int64_t w = 0; w < windows; ++w) {
    const auto first = corpus.val.begin() + w * (seq + 1) + 1;
    decoded_bytes += static_cast<int64_t>(corpus.tokenizer.decode(std::vector<int32_t>(first, first + seq)).size());
  }
  REQUIRE(d["text_bytes"].get<int64_t>() == decoded_bytes);
  REQUIRE(d["bpb"].get<double>() ==
          Approx(d["loss"].get<double>() * d["tokens"].get<double>() / (std::log(2.0) * decoded_bytes)).epsilon(1e-12));

  // The run's metrics: val_bpb of the same windows (eval_batches 2 x batch 8 = 16 windows).
  const std::vector<MetricsRow> rows = MetricsLog(dir.file("run/metrics.h5")).read();
  const int64_t val_windows = std::min<int64_t>(16, window_count(static_cast<int64_t>(corpus.val.size()), seq));
  int64_t run_bytes = 0;
  for (int64_t w = 0; w < val_windows; ++w) {
    const auto first = corpus.val.begin() + w * (seq + 1) + 1;
    run_bytes += static_cast<int64_t>(corpus.tokenizer.decode(std::vector<int32_t>(first, first + seq)).size());
  }
  for (const MetricsRow& row : rows) {
    if (std::isnan(row.val_loss)) continue;
    REQUIRE(row.val_bpb ==
            Approx(row.val_loss * static_cast<double>(val_windows * seq) / (std::log(2.0) * run_bytes)).epsilon(1e-12));
  }

  const auto s = cli({"sample", "--ckpt", ckpt, "--prompt", "ka", "--tokens", "30", "--seed", "1"});
  REQUIRE(s.code == 0);
  REQUIRE(s.out.rfind("ka", 0) == 0);
  REQUIRE(s.out.size() > 30);  // 30 BPE tokens spell more than 30 bytes here

  // A corpus of another BPE model does not fit the checkpoint, though kind and size agree.
  write_file(dir.file("other.txt"), make_word_text(7, 60000));
  prepare_corpus({dir.file("other.txt")}, dir.file("other.h5"), subword_options("bpe", 400));
  expect_error(cli({"eval", "--ckpt", ckpt, "--data", dir.file("other.h5")}),
               "made by another bpe tokenizer than the one the model in " + ckpt + " was trained with");
  prepare_corpus({dir.file("other.txt")}, dir.file("bytes.h5"), 0.1);
  expect_error(cli({"eval", "--ckpt", ckpt, "--data", dir.file("bytes.h5")}),
               "bytes.h5: made by the \"bytes\" tokenizer, but the model in " + ckpt + " was trained on \"bpe\" tokens");
}

TEST_CASE("Byte-level runs log val_bpb = val_loss / ln 2, metrics journals of 12 columns still read", "[tokenizer][metrics]") {
  TempDir dir("bytes_bpb");
  const std::string corpus = make_corpus(dir, 60000);
  CapturedLog log;
  Engine engine(2);
  Trainer(small_run(corpus, 10), engine, log).run(dir.file("run"));
  int checked = 0;
  for (const MetricsRow& row : MetricsLog(dir.file("run/metrics.h5")).read()) {
    if (std::isnan(row.val_loss)) continue;
    REQUIRE(row.val_bpb == Approx(row.val_loss / std::log(2.0)).epsilon(1e-14));
    ++checked;
  }
  REQUIRE(checked >= 2);

  // A journal as the first release wrote it: 12 float64 per row.
  std::vector<std::string> records;
  for (int i = 0; i < 3; ++i) {
    double v[12] = {static_cast<double>(i), 0, 0, 1.5, 2.5, std::exp(2.5), 1e-3, 0, 100, 0, 0, 0};
    records.emplace_back(reinterpret_cast<const char*>(v), sizeof v);
  }
  write_journal(dir.file("old.journal"), "metrics", 96, records);
  MetricsLog old(dir.file("old.h5"));
  std::vector<MetricsRow> rows = old.read();
  REQUIRE(rows.size() == 3);
  REQUIRE(rows[2].step == 2);
  REQUIRE(rows[2].val_loss == 2.5);
  REQUIRE(std::isnan(rows[2].val_bpb));
  REQUIRE(metrics_journal_problem(dir.file("old.journal")).empty());
  MetricsRow next = rows[2];
  next.step = 3;
  next.val_bpb = 3.0;
  old.append(next);  // the journal is rewritten with 13 columns first
  old.compact();
  rows = MetricsLog(dir.file("old.h5")).read();
  REQUIRE(rows.size() == 4);
  REQUIRE(std::isnan(rows[0].val_bpb));
  REQUIRE(rows[3].val_bpb == 3.0);
}

TEST_CASE("Without model.vocab_size a run config takes its corpus's vocabulary", "[tokenizer][config]") {
  TempDir dir("vocab_from_corpus");
  write_file(dir.file("text.txt"), make_word_text(8, 40000));
  prepare_corpus({dir.file("text.txt")}, dir.file("bpe.h5"), subword_options("bpe", 320));
  nlohmann::json config = {{"data", dir.file("bpe.h5")},
                           {"model", {{"d_model", 16}, {"n_layers", 1}, {"n_heads", 2}, {"seq_len", 8}}},
                           {"train", {{"steps", 1}}}};
  REQUIRE(parse_run_config(config, "c.json").model.vocab_size == 320);
  config["model"]["vocab_size"] = 1000;  // given: kept (a larger vocabulary is allowed)
  REQUIRE(parse_run_config(config, "c.json").model.vocab_size == 1000);
  config["model"].erase("vocab_size");
  config["data"] = dir.file("absent.h5");  // no corpus yet: the default, and train names the missing file
  REQUIRE(parse_run_config(config, "c.json").model.vocab_size == 256);
}

TEST_CASE("tokengrow tokenize prints a corpus's or checkpoint's ids and decodes them back", "[tokenizer][cli]") {
  TempDir dir("tokenize_cli");
  const std::string text = make_word_text(9, 40000);
  write_file(dir.file("text.txt"), text);
  prepare_corpus({dir.file("text.txt")}, dir.file("bpe.h5"), subword_options("bpe", 300));
  const Corpus corpus = load_corpus(dir.file("bpe.h5"));
  write_file(dir.file("line.txt"), "kaost lotién 42.\n");
  const auto ids = cli({"tokenize", "--data", dir.file("bpe.h5"), "--text", dir.file("line.txt")});
  REQUIRE(ids.code == 0);
  REQUIRE(nlohmann::json::parse(ids.out).get<std::vector<int32_t>>() == corpus.tokenizer.encode("kaost lotién 42.\n"));
  write_file(dir.file("ids.json"), ids.out);
  const auto back = cli({"tokenize", "--data", dir.file("bpe.h5"), "--text", dir.file("ids.json"), "--decode"});
  REQUIRE(back.out == "kaost lotién 42.\n");
  write_file(dir.file("bad.json"), "[1, 99999]");
  expect_error(cli({"tokenize", "--data", dir.file("bpe.h5"), "--text", dir.file("bad.json"), "--decode"}),
               "token 99999 at position 1 is outside the tokenizer's vocabulary [0, 300)");
  expect_error(cli({"tokenize", "--text", dir.file("line.txt")}), "give exactly one of --ckpt or --data");
}
