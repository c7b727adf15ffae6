#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/log.h"
#include "train/corpus.h"

namespace tg {

int cmd_prepare(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow prepare",
                           "Tokenize text files (byte-level; gzip and dictzip files are read decompressed) into an "
                           "HDF5 corpus with train and validation splits; the last --val-fraction of each file (or of "
                           "every --val-every bytes of it) is validation.");
  options.add_options()
      ("text", "Text file(s) to read, in order, each a document (repeat the flag or separate with commas)",
       cxxopts::value<std::vector<std::string>>())
      ("out", "Output corpus file (.h5); must not exist unless --force", cxxopts::value<std::string>())
      ("val-fraction", "Fraction of each file's tokens held out for validation, in [0, 0.5]",
       cxxopts::value<double>()->default_value("0.05"))
      ("val-every", "Hold out the last --val-fraction of every segment of this many bytes of each file, not only "
                    "of its end (0: off)",
       cxxopts::value<int64_t>()->default_value("0"))
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
  const auto info = prepare_corpus(args["text"].as<std::vector<std::string>>(), args["out"].as<std::string>(), prepare);
  log.info(line("wrote ", args["out"].as<std::string>(), ": tokenizer ", info.tokenizer, " (vocab ", info.vocab_size,
                "), ", info.train_tokens, " train tokens, ", info.val_tokens, " validation tokens"));
  return 0;
}

}  // namespace tg
