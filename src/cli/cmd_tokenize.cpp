// `tokengrow tokenize`: a text file as the token ids of a checkpoint's or a corpus's
// tokenizer (JSON on stdout), or ids back to text: what tools outside tokengrow
// (python/tokengrow_torch.py) use instead of a SentencePiece of their own.
#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/error.h"
#include "core/file_status.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"
#include "train/checkpoint.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

namespace tg {

namespace {
// The tokenizer a checkpoint (--ckpt) or a corpus (--data) records.
Tokenizer tokenizer_of(const cxxopts::ParseResult& args) {
  if (args.count("ckpt") == args.count("data")) throw UserError("tokengrow tokenize: give exactly one of --ckpt or --data");
  if (args.count("ckpt")) {
    const std::string path = args["ckpt"].as<std::string>();
    return Tokenizer(read_checkpoint_state(path).tokenizer, path);
  }
  const std::string path = args["data"].as<std::string>();
  return load_corpus(path).tokenizer;
}
}  // namespace

int cmd_tokenize(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow tokenize",
                           "Print the token ids of a text file (a JSON list) by the tokenizer of a checkpoint or a "
                           "corpus, or with --decode turn a JSON list of ids back into text.");
  options.add_options()
      ("ckpt", "Checkpoint whose tokenizer to use", cxxopts::value<std::string>())
      ("data", "Corpus whose tokenizer to use", cxxopts::value<std::string>())
      ("text", "Text file to tokenize (with --decode: a file holding a JSON list of ids)", cxxopts::value<std::string>())
      ("decode", "Turn ids into text instead");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "tokenize", "text");
  const Tokenizer tokenizer = tokenizer_of(args);
  const std::string path = args["text"].as<std::string>();
  const std::string text = read_regular_file(path, "text file");
  if (!args.count("decode")) {
    out << nlohmann::json(tokenizer.encode(text)).dump() << "\n";
    return 0;
  }
  std::vector<int32_t> ids;
  try {
    ids = nlohmann::json::parse(text).get<std::vector<int32_t>>();
  } catch (const nlohmann::json::exception&) {
    throw UserError(path + ": expected a JSON list of token ids");
  }
  check_token_ids(ids, tokenizer.vocab_size(), path, "the tokenizer's");
  out << tokenizer.decode(ids);
  return 0;
}

}  // namespace tg
