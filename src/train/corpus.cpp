#include "train/corpus.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace tg {

std::vector<int32_t> tokenize_bytes(const std::string& text) {
  std::vector<int32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = static_cast<unsigned char>(text[i]);
  return tokens;
}

std::string detokenize_bytes(const std::vector<int32_t>& tokens) {
  std::string text(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) text[i] = static_cast<char>(tokens[i] & 0xFF);
  return text;
}

CorpusInfo prepare_corpus(const std::vector<std::string>& text_files, const std::string& out_path, double val_fraction) {
  if (!(val_fraction >= 0.0 && val_fraction <= 0.5))
    throw UserError("--val-fraction must be in [0, 0.5], got " + std::to_string(val_fraction));
  if (text_files.empty()) throw UserError("no text files given");
  std::string text;
  for (const auto& file : text_files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw UserError(file + ": cannot open text file");
    std::stringstream buffer;
    buffer << in.rdbuf();
    text += buffer.str();
  }
  if (text.empty()) throw UserError("the text files are empty; nothing to prepare");
  const int64_t n = static_cast<int64_t>(text.size());
  const int64_t n_val = static_cast<int64_t>(std::floor(static_cast<double>(n) * val_fraction));
  std::vector<uint8_t> train(text.begin(), text.end() - n_val), val(text.end() - n_val, text.end());

  const std::string tmp = out_path + ".tmp";
  {
    H5File file = H5File::create(tmp);
    file.write_u8("train", train);
    file.write_u8("val", val);
    file.set_attr("/", "format", std::string("tokengrow-corpus"));
    file.set_attr("/", "format_version", int64_t{1});
    file.set_attr("/", "tokenizer", std::string("bytes"));
    file.set_attr("/", "vocab_size", int64_t{256});
    file.set_attr("/", "sources", nlohmann::json(text_files).dump());
    file.set_attr("/", "val_fraction", val_fraction);
    file.flush();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw UserError(out_path + ": cannot write corpus: " + ec.message());
  }
  return {"bytes", 256, static_cast<int64_t>(train.size()), n_val};
}

Corpus load_corpus(const std::string& path) {
  H5File file = H5File::open_read(path);
  if (!file.has_attr("/", "format") || file.get_attr_string("/", "format") != "tokengrow-corpus")
    throw UserError(path + ": not a tokengrow corpus (no format = \"tokengrow-corpus\" attribute; "
                           "make one with `tokengrow prepare`)");
  Corpus c;
  c.info.tokenizer = file.get_attr_string("/", "tokenizer");
  c.info.vocab_size = file.get_attr_int("/", "vocab_size");
  c.train = file.read_tokens("train");
  c.val = file.read_tokens("val");
  c.info.train_tokens = static_cast<int64_t>(c.train.size());
  c.info.val_tokens = static_cast<int64_t>(c.val.size());
  for (const auto* split : {&c.train, &c.val})
    for (int32_t t : *split)
      if (t < 0 || t >= c.info.vocab_size)
        throw UserError(path + ": token id " + std::to_string(t) + " outside the vocabulary [0, " +
                        std::to_string(c.info.vocab_size) + ")");
  return c;
}

BatchSampler::BatchSampler(const std::vector<int32_t>* tokens, int64_t batch, int64_t seq_len, uint64_t seed)
    : tokens_(tokens), batch_(batch), seq_len_(seq_len), rng_(seed) {
  if (static_cast<int64_t>(tokens_->size()) < seq_len_ + 1)
    throw UserError("the training split has " + std::to_string(tokens_->size()) + " tokens, but one sequence needs " +
                    std::to_string(seq_len_ + 1));
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

int64_t window_count(int64_t n_tokens, int64_t seq_len) { return n_tokens / (seq_len + 1); }

void window_batch(const std::vector<int32_t>& tokens, int64_t seq_len, int64_t first_window, int64_t count,
                  std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  inputs.resize(count * seq_len);
  targets.resize(count * seq_len);
  for (int64_t w = 0; w < count; ++w) {
    const int32_t* src = tokens.data() + (first_window + w) * (seq_len + 1);
    std::copy(src, src + seq_len, inputs.begin() + w * seq_len);
    std::copy(src + 1, src + seq_len + 1, targets.begin() + w * seq_len);
  }
}

}  // namespace tg
