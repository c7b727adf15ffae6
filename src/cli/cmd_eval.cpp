#include <cmath>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "cli/inference_model.h"
#include "core/error.h"
#include "core/file_status.h"
#include "data/corpus.h"
#include "data/tokenizer.h"
#include "train/evaluate.h"

namespace tg {

namespace {
// The first parameter holding a NaN or an Inf ("" if none: then the logits overflowed).
std::string first_non_finite_parameter(LanguageModel& model) {
  for (const Parameter* p : model.parameters())
    for (int64_t i = 0; i < p->value.numel(); ++i)
      if (!std::isfinite(p->value.data()[i])) return p->name;
  return "";
}

// A loss that is not a number compares with nothing: the checkpoint is refused, naming
// what in it made the loss so.
void require_finite_loss(double loss, LanguageModel& model, const std::string& ckpt, const std::string& source) {
  if (std::isfinite(loss)) return;
  const std::string parameter = first_non_finite_parameter(model);
  throw UserError(ckpt + ": the loss on " + source + " is " + (std::isnan(loss) ? "NaN" : "infinite") + ": " +
                  (parameter.empty() ? "the weights are finite, but the logits overflow float32"
                                     : "parameter " + parameter + " holds NaN or Inf values"));
}
}  // namespace

int cmd_eval(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow eval", "Loss (nats per token), perplexity and bits per byte of text of a "
                                             "checkpoint (or packed model) on a corpus split (--data) or a plain text file (--text, "
                                             "tokenized with the checkpoint's tokenizer), over consecutive "
                                             "non-overlapping windows of seq_len + 1 tokens.");
  options.add_options()
      ("ckpt", "Checkpoint file", cxxopts::value<std::string>())
      ("packed", "Packed model file (`tokengrow export --format packed`), run on int8 kernels, instead of --ckpt",
       cxxopts::value<std::string>())
      ("data", "Corpus file from `tokengrow prepare`", cxxopts::value<std::string>())
      ("split", "Corpus split: val or train", cxxopts::value<std::string>()->default_value("val"))
      ("text", "Plain text file to evaluate instead of --data", cxxopts::value<std::string>())
      ("batch-size", "Windows per forward pass", cxxopts::value<int64_t>()->default_value("16"))
      ("max-windows", "Evaluate at most this many windows (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("threads", "Threads (0: all cores)", cxxopts::value<int64_t>()->default_value("0"))
      ("json", "Print the result as JSON");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  const int threads = threads_flag(args, "eval");
  if (args.count("data") == args.count("text"))
    throw UserError("tokengrow eval: give exactly one of --data or --text");
  const int64_t batch = args["batch-size"].as<int64_t>();
  if (batch < 1) throw UserError("tokengrow eval: --batch-size must be at least 1");

  Engine engine(threads);
  InferenceModel loaded = load_inference_model(args, "eval");
  const std::string& ckpt = loaded.path;
  const TrainState& state = loaded.state;
  LanguageModel* model = loaded.model.get();
  const Tokenizer tokenizer(state.tokenizer, ckpt);
  const int64_t vocab = model->config().vocab_size;

  std::vector<int32_t> tokens;
  std::string source;
  if (args.count("text")) {
    source = args["text"].as<std::string>();
    tokens = tokenizer.encode(read_regular_file(source, "text file"));
    check_token_ids(tokens, vocab, source, "the model's");
  } else {
    source = args["data"].as<std::string>();
    const std::string split = args["split"].as<std::string>();
    if (split != "val" && split != "train")
      throw UserError("tokengrow eval: --split must be val or train, got \"" + split + "\"");
    Corpus corpus = load_corpus(source);
    check_corpus_fits(corpus.info, source, state.tokenizer, vocab, ckpt);
    tokens = split == "val" ? std::move(corpus.val) : std::move(corpus.train);
    source += " (" + split + ")";
  }
  const EvalResult r = evaluate_windows(engine, *model, tokens, batch, args["max-windows"].as<int64_t>(), source,
                                        tokenizer.bytes_per_id());
  require_finite_loss(r.loss, *model, ckpt, source);
  if (args.count("json")) {
    out << nlohmann::json{{"checkpoint", ckpt}, {"packed", loaded.packed}, {"source", source},  {"loss", r.loss},
                          {"ppl", std::exp(r.loss)}, {"bpb", r.bits_per_byte()}, {"tokens", r.tokens},
                          {"text_bytes", r.text_bytes}, {"windows", r.windows}, {"tokenizer", tokenizer.kind()}}
               .dump()
        << "\n";
  } else {
    out << source << ": loss " << r.loss << " nats/token, perplexity " << std::exp(r.loss) << ", "
        << r.bits_per_byte() << " bits/byte (" << r.tokens << " " << tokenizer.kind() << " tokens, " << r.text_bytes
        << " bytes of text, in " << r.windows << " windows)\n";
  }
  return 0;
}

}  // namespace tg
