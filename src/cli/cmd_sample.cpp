#include <algorithm>
#include <cmath>
#include <numeric>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "cli/inference_model.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/corpus.h"
#include "data/tokenizer.h"

namespace tg {

namespace {
// The most tokens one `sample` generates (docs/commands.md): past it a typo, not a wish.
constexpr int64_t kMaxSampleTokens = 1000000;
}  // namespace

int cmd_sample(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow sample", "Generate text from a checkpoint (or packed model), continuing --prompt.");
  options.add_options()
      ("ckpt", "Checkpoint file", cxxopts::value<std::string>())
      ("packed", "Packed model file (`tokengrow export --format packed`), run on int8 kernels, instead of --ckpt",
       cxxopts::value<std::string>())
      ("prompt", "Text to continue", cxxopts::value<std::string>()->default_value("\n"))
      ("tokens", "Tokens to generate", cxxopts::value<int64_t>()->default_value("200"))
      ("temperature", "Softmax temperature (0: greedy)", cxxopts::value<double>()->default_value("1.0"))
      ("top-k", "Sample among the k most likely tokens (0: all)", cxxopts::value<int64_t>()->default_value("0"))
      ("seed", "Random seed", cxxopts::value<int64_t>()->default_value("0"))
      ("threads", "Threads (0: all cores)", cxxopts::value<int64_t>()->default_value("0"));
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  const int threads = threads_flag(args, "sample");
  const int64_t n_new = args["tokens"].as<int64_t>();
  const double temperature = args["temperature"].as<double>();
  const int64_t top_k = args["top-k"].as<int64_t>();
  if (n_new < 0 || n_new > kMaxSampleTokens)
    throw UserError("tokengrow sample: --tokens: expected an integer in [0, " + std::to_string(kMaxSampleTokens) +
                    "], got " + std::to_string(n_new));
  if (!(temperature >= 0)) throw UserError("tokengrow sample: --temperature must be >= 0");
  if (top_k < 0) throw UserError("tokengrow sample: --top-k must be >= 0");

  Engine engine(threads);
  InferenceModel loaded = load_inference_model(args, "sample");
  LanguageModel* model = loaded.model.get();
  const Tokenizer tokenizer(loaded.state.tokenizer, loaded.path);
  const int64_t seq = model->config().seq_len;
  std::vector<int32_t> context = tokenizer.encode(args["prompt"].as<std::string>());
  if (context.empty()) throw UserError("tokengrow sample: --prompt must hold at least one token of text");
  check_token_ids(context, model->config().vocab_size, "tokengrow sample: --prompt", "the model's");
  // Only ids the tokenizer can print are drawn (a model's vocabulary may be larger
  // than its corpus's; those rows never trained).
  const int64_t model_vocab = model->config().vocab_size;
  const int64_t vocab = std::min(model_vocab, tokenizer.vocab_size());  // the ids drawn from
  // A tokenizer that keeps bytes decodes ids one by one (decode(a ++ b) = decode(a) +
  // decode(b)), so each token is printed as it is drawn; SentencePiece's own decoding
  // (a model that normalises text) needs the whole sequence, printed at the end.
  const bool streamed = tokenizer.keeps_bytes();
  if (streamed) out << tokenizer.decode(context) << std::flush;
  Rng rng(static_cast<uint64_t>(args["seed"].as<int64_t>()));
  std::vector<int32_t> window(seq);
  Tensor logits;
  std::vector<double> probs(vocab);
  std::vector<int32_t> order(vocab);
  for (int64_t i = 0; i < n_new; ++i) {
    // The last seq tokens, left-aligned and padded: the model is causal, so padding
    // after the final position does not change its logits, and one shape is reused.
    const int64_t len = std::min<int64_t>(seq, static_cast<int64_t>(context.size()));
    std::fill(window.begin(), window.end(), 0);
    std::copy(context.end() - len, context.end(), window.begin());
    model->logits(engine, window, 1, seq, logits);
    const float* z = logits.data() + (len - 1) * model_vocab;
    int32_t next = 0;
    if (temperature == 0) {
      next = static_cast<int32_t>(std::max_element(z, z + vocab) - z);
    } else {
      std::iota(order.begin(), order.end(), 0);
      const int64_t k = top_k > 0 ? std::min(top_k, vocab) : vocab;
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) { return z[a] > z[b]; });
      const double mx = z[order[0]];
      double sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += probs[j] = std::exp((z[order[j]] - mx) / temperature);
      double u = rng.uniform() * sum;
      next = order[k - 1];
      for (int64_t j = 0; j < k; ++j) {
        u -= probs[j];
        if (u < 0) { next = order[j]; break; }
      }
    }
    context.push_back(next);
    if (streamed) out << tokenizer.decode({next}) << std::flush;
  }
  if (!streamed) out << tokenizer.decode(context);
  out << "\n";
  return 0;
}

}  // namespace tg
