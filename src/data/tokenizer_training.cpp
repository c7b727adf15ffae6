#include "data/tokenizer_training.h"

#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "core/error.h"

namespace tg {

namespace {
constexpr size_t kMaxLineBytes = 65536;

// Hands SentencePiece the sample one line at a time, without copying it.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string>& lines) : lines_(lines) { settle(); }
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override {
    ++index_;
    settle();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void settle() {
    if (!done()) current_ = lines_[index_].substr(0, kMaxLineBytes);
  }
  const std::vector<std::string>& lines_;
  size_t index_ = 0;
  std::string current_;
};
}  // namespace

TokenizerSpec train_tokenizer(const std::vector<std::string>& lines, const TokenizerTraining& training) {
  if (training.kind != "bpe" && training.kind != "unigram")
    throw UserError("--tokenizer: SentencePiece trains \"bpe\" or \"unigram\", not \"" + shown(training.kind) + "\"");
  if (training.vocab_size < kMinSentencePieceVocab || training.vocab_size > kMaxVocabSize)
    throw UserError("--vocab-size must be in [" + std::to_string(kMinSentencePieceVocab) + ", " +
                    std::to_string(kMaxVocabSize) + "] for a " + training.kind + " tokenizer (256 byte pieces and " +
                    "some merges), got " + std::to_string(training.vocab_size));
  if (lines.empty()) throw UserError("no text to train the tokenizer on");
  const std::unordered_map<std::string, std::string> settings = {
      {"model_type", training.kind},
      {"vocab_size", std::to_string(training.vocab_size)},
      {"byte_fallback", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"user_defined_symbols", "\n"},
      {"split_digits", "false"},
      {"character_coverage", "1.0"},
      {"max_sentence_length", std::to_string(kMaxLineBytes)},
      {"input_sentence_size", "0"},  // every sampled line (prepare bounds the sample)
      {"num_threads", std::to_string(std::max(1, training.threads))},
      {"minloglevel", "2"},
      {"bos_id", "-1"},
      {"eos_id", "-1"},
      {"pad_id", "-1"},
      {"unk_id", "0"},
  };
  LineIterator iterator(lines);
  TokenizerSpec spec{training.kind, {}};
  const auto status = sentencepiece::SentencePieceTrainer::Train(settings, &iterator, &spec.model);
  if (!status.ok())
    throw UserError("SentencePiece could not train a " + training.kind + " tokenizer of " +
                    std::to_string(training.vocab_size) + " pieces: " + status.ToString());
  return spec;
}

}  // namespace tg
