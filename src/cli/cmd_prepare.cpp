#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/error.h"
#include "core/file_status.h"
#include "core/log.h"
#include "data/corpus.h"
#include "data/corpus_prepare.h"
#include "data/tokenizer_training.h"

namespace tg {

namespace {
// --tokenizer, --vocab-size, --tokenizer-sample-bytes and --tokenizer-model into the
// prepare options: bytes by default; a SentencePiece model to train; or one to reuse.
void tokenizer_options(const cxxopts::ParseResult& args, PrepareOptions& prepare, spdlog::logger& log) {
  const std::string kind = args["tokenizer"].as<std::string>();
  const bool has_vocab = args.count("vocab-size") > 0, has_model = args.count("tokenizer-model") > 0;
  if (has_model) {
    const std::string path = args["tokenizer-model"].as<std::string>();
    prepare.tokenizer.model = read_regular_file(path, "SentencePiece model", kMaxTokenizerModelBytes);
    const SentencePieceFacts facts = read_sentencepiece_facts(prepare.tokenizer.model, path);
    prepare.tokenizer.kind = facts.model_type;
    if (!facts.keeps_bytes())
      log.warn(line(path, ": its normalisation (", facts.normalization, facts.add_dummy_prefix ? ", dummy prefix" : "",
                    facts.remove_extra_whitespaces ? ", extra whitespace removed" : "", ") changes the text, so decoding may not give it back and bits per byte count the normalised "
                    "bytes (docs/tokenizers.md)"));
    if (args.count("tokenizer") && kind != prepare.tokenizer.kind)
      throw UserError("--tokenizer " + kind + ": " + path + " is a " + prepare.tokenizer.kind + " model");
    const int64_t vocab = Tokenizer(prepare.tokenizer, path).vocab_size();
    if (has_vocab && args["vocab-size"].as<int64_t>() != vocab)
      throw UserError("--vocab-size " + std::to_string(args["vocab-size"].as<int64_t>()) + ": " + path + " has " +
                      std::to_string(vocab) + " pieces (leave --vocab-size out with --tokenizer-model)");
    return;
  }
  if (kind == "bytes") {
    if (has_vocab) throw UserError("--vocab-size: the bytes tokenizer's vocabulary is always 256");
    return;
  }
  if (kind != "bpe" && kind != "unigram")
    throw UserError("--tokenizer must be bytes, bpe or unigram, got \"" + shown(kind) + "\"");
  if (!has_vocab) throw UserError("--tokenizer " + kind + " needs --vocab-size (for example 2048)");
  const int64_t sample = args["tokenizer-sample-bytes"].as<int64_t>();
  if (sample < 1 || sample > int64_t{1} << 30)
    throw UserError("--tokenizer-sample-bytes must be in [1, 1073741824], got " + std::to_string(sample));
  prepare.train_tokenizer = TokenizerTraining{kind, args["vocab-size"].as<int64_t>()};
  prepare.tokenizer_sample_bytes = sample;
}
}  // namespace

int cmd_prepare(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow prepare",
                           "Tokenize text files (gzip and dictzip files are read decompressed) into an HDF5 corpus "
                           "with train and validation splits; the last --val-fraction of each file (or of every "
                           "--val-every bytes of it) is validation. Byte-level by default; --tokenizer bpe|unigram "
                           "trains a SentencePiece tokenizer on the training text, --tokenizer-model reuses one. "
                           "The tokenizer is stored in the corpus.");
  options.add_options()
      ("text", "Text file(s) to read, in order, each a document (repeat the flag or separate with commas)",
       cxxopts::value<std::vector<std::string>>())
      ("out", "Output corpus file (.h5); must not exist unless --force", cxxopts::value<std::string>())
      ("val-fraction", "Fraction of each file's bytes held out for validation, in [0, 0.5]",
       cxxopts::value<double>()->default_value("0.05"))
      ("val-every", "Hold out the last --val-fraction of every segment of this many bytes of each file, not only "
                    "of its end (0: off)",
       cxxopts::value<int64_t>()->default_value("0"))
      ("tokenizer", "bytes, or a SentencePiece tokenizer to train: bpe or unigram",
       cxxopts::value<std::string>()->default_value("bytes"))
      ("vocab-size", "Pieces of the tokenizer to train (bpe, unigram), at least 260", cxxopts::value<int64_t>())
      ("tokenizer-sample-bytes", "Bytes of training text, lines sampled evenly, to train the tokenizer on",
       cxxopts::value<int64_t>()->default_value(std::to_string(kDefaultTokenizerSampleBytes)))
      ("tokenizer-model", "A SentencePiece .model file to tokenize with instead of training one",
       cxxopts::value<std::string>())
      ("force", "Replace an existing --out (never one of the --text inputs)");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "prepare", "text");
  require_flag(args, "prepare", "out");
  PrepareOptions prepare;
  prepare.val_fraction = args["val-fraction"].as<double>();
  prepare.val_every = args["val-every"].as<int64_t>();
  prepare.overwrite = args.count("force") > 0;
  prepare.log = &log;
  tokenizer_options(args, prepare, log);
  const auto info = prepare_corpus(args["text"].as<std::vector<std::string>>(), args["out"].as<std::string>(), prepare);
  log.info(line("wrote ", args["out"].as<std::string>(), ": tokenizer ", info.tokenizer.kind, " (vocab ",
                info.vocab_size, "), ", info.train_tokens, " train tokens from ", info.train_text_bytes, " bytes, ",
                info.val_tokens, " validation tokens from ", info.val_text_bytes, " bytes"));
  return 0;
}

}  // namespace tg
