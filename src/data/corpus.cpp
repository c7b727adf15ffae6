#include "data/corpus.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/sealed_file.h"

namespace tg {

namespace {
H5File open_corpus(const std::string& path) {
  H5File file = open_sealed(path, kCorpusSealKind);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != kCorpusFormat)
    throw UserError(path + ": not a tokengrow corpus (no format = \"" + std::string(kCorpusFormat) +
                    "\" attribute; make one with `tokengrow prepare`)");
  if (file.has_attr("/", "format_version") && file.get_attr_int("/", "format_version") > kCorpusFormatVersion)
    throw UserError(path + ": corpus format version " + std::to_string(file.get_attr_int("/", "format_version")) +
                    " is newer than this tokengrow understands (" + std::to_string(kCorpusFormatVersion) + ")");
  return file;
}
}  // namespace

int64_t read_corpus_vocab_size(const std::string& path) {
  if (!H5File::is_hdf5(path)) return 0;
  const H5File file = H5File::open_read(path);
  return file.has_attr("/", "vocab_size") ? file.get_attr_int("/", "vocab_size") : 0;
}

Corpus load_corpus(const std::string& path) {
  H5File file = open_corpus(path);
  Corpus c;
  c.info.tokenizer = read_tokenizer_spec(file, path);
  c.info.vocab_size = file.get_attr_int("/", "vocab_size");
  c.tokenizer = Tokenizer(c.info.tokenizer, path);
  if (c.info.vocab_size != c.tokenizer.vocab_size())
    throw UserError(path + ": vocab_size " + std::to_string(c.info.vocab_size) + " is not the " +
                    std::to_string(c.tokenizer.vocab_size()) + " of its " + c.info.tokenizer.kind + " tokenizer");
  for (const char* split : {"train", "val"})
    if (!file.exists(split)) throw UserError(path + ": corpus has no /" + std::string(split) + " dataset");
  c.train = file.read_tokens("train");
  c.val = file.read_tokens("val");
  c.info.train_tokens = static_cast<int64_t>(c.train.size());
  c.info.val_tokens = static_cast<int64_t>(c.val.size());
  const bool bytes = c.info.tokenizer.kind == "bytes";  // v1 and v2 corpora record no text bytes
  c.info.train_text_bytes = file.has_attr("/", "train_text_bytes") ? file.get_attr_int("/", "train_text_bytes")
                                                                   : (bytes ? c.info.train_tokens : 0);
  c.info.val_text_bytes = file.has_attr("/", "val_text_bytes") ? file.get_attr_int("/", "val_text_bytes")
                                                               : (bytes ? c.info.val_tokens : 0);
  for (const auto* split : {&c.train, &c.val})
    for (int32_t t : *split)
      if (t < 0 || t >= c.info.vocab_size)
        throw UserError(path + ": token id " + std::to_string(t) + " outside the vocabulary [0, " +
                        std::to_string(c.info.vocab_size) + ")");
  return c;
}

void check_corpus_fits(const CorpusInfo& corpus, const std::string& corpus_path, const TokenizerSpec& model_tokenizer,
                       int64_t model_vocab, const std::string& model_path) {
  if (corpus.tokenizer.kind != model_tokenizer.kind)
    throw UserError(corpus_path + ": made by the \"" + corpus.tokenizer.kind + "\" tokenizer, but the model in " +
                    model_path + " was trained on \"" + shown(model_tokenizer.kind) + "\" tokens");
  if (corpus.tokenizer.model != model_tokenizer.model)
    throw UserError(corpus_path + ": made by another " + corpus.tokenizer.kind + " tokenizer than the one the model in " +
                    model_path + " was trained with (their SentencePiece models differ); prepare the text with "
                    "--tokenizer-model set to the model's tokenizer (tokengrow inspect shows how)");
  if (corpus.vocab_size > model_vocab)
    throw UserError(corpus_path + ": corpus vocabulary has " + std::to_string(corpus.vocab_size) +
                    " tokens but the model in " + model_path + " has " + std::to_string(model_vocab));
}

BatchSampler::BatchSampler(const std::vector<int32_t>* tokens, int64_t batch, int64_t seq_len, uint64_t seed)
    : tokens_(tokens), batch_(batch), seq_len_(seq_len), rng_(seed) {
  if (batch_ < 1 || seq_len_ < 1) throw std::invalid_argument("BatchSampler: batch and seq_len must be positive");
  if (static_cast<int64_t>(tokens_->size()) < seq_len_ + 1)
    throw UserError("the training split has " + std::to_string(tokens_->size()) + " tokens, but one sequence of seq_len " +
                    std::to_string(seq_len_) + " needs " + std::to_string(seq_len_ + 1) +
                    " (use more text, or a smaller seq_len)");
}

void BatchSampler::next(std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  inputs.resize(batch_ * seq_len_);
  targets.resize(batch_ * seq_len_);
  const uint64_t starts = tokens_->size() - seq_len_;  // offsets 0 .. N - seq_len - 1
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t start = static_cast<int64_t>(rng_.below(starts));
    const int32_t* src = tokens_->data() + start;
    std::copy(src, src + seq_len_, inputs.begin() + b * seq_len_);
    std::copy(src + 1, src + seq_len_ + 1, targets.begin() + b * seq_len_);
  }
}

void BatchSampler::skip(int64_t batches) {
  const uint64_t starts = tokens_->size() - seq_len_;
  for (int64_t i = 0; i < batches * batch_; ++i) (void)rng_.below(starts);  // as next() draws them
}

int64_t window_count(int64_t n_tokens, int64_t seq_len) { return n_tokens / (seq_len + 1); }

void window_batch(const std::vector<int32_t>& tokens, int64_t seq_len, int64_t first_window, int64_t count,
                  std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  if (first_window < 0 || count < 0 ||
      first_window + count > window_count(static_cast<int64_t>(tokens.size()), seq_len))
    throw std::out_of_range("window_batch: windows [" + std::to_string(first_window) + ", " +
                            std::to_string(first_window + count) + ") beyond the token sequence");
  inputs.resize(count * seq_len);
  targets.resize(count * seq_len);
  for (int64_t w = 0; w < count; ++w) {
    const int32_t* src = tokens.data() + (first_window + w) * (seq_len + 1);
    std::copy(src, src + seq_len, inputs.begin() + w * seq_len);
    std::copy(src + 1, src + seq_len + 1, targets.begin() + w * seq_len);
  }
}

}  // namespace tg
