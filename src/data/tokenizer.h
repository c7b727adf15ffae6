#pragma once
// Tokenizers: text to token ids and back. A corpus stores the tokenizer that made it
// (its kind, and for SentencePiece the serialized model), and so does every
// checkpoint (the tokenizer of the corpus it was trained on), so eval --text, sample
// and inspect turn text into the ids the model was trained on with nothing else.
//
//   bytes          one token per byte, vocabulary 256 (the default)
//   bpe, unigram   a SentencePiece model (libsentencepiece), trained by prepare
//                  (data/tokenizer_training.h) or brought with --tokenizer-model;
//                  "word" and "char" SentencePiece models load too
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tg {

class H5File;

// What corpora and checkpoints store of a tokenizer.
struct TokenizerSpec {
  std::string kind = "bytes";  // "bytes", or the SentencePiece model type
  std::string model;           // the serialized SentencePiece ModelProto; empty for bytes
  bool operator==(const TokenizerSpec&) const = default;
};

// The most bytes a SentencePiece model file may hold (models of 1M pieces are ~20 MB).
inline constexpr int64_t kMaxTokenizerModelBytes = int64_t{256} << 20;
// The largest vocabulary tokengrow accepts (token ids are stored as uint32 at most).
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 22;

class Tokenizer {
 public:
  Tokenizer();  // bytes
  // UserError naming `where` for an unknown kind, a model SentencePiece cannot load,
  // or a kind that is not the model's.
  Tokenizer(const TokenizerSpec& spec, const std::string& where);

  const TokenizerSpec& spec() const { return spec_; }
  const std::string& kind() const { return spec_.kind; }
  int64_t vocab_size() const { return static_cast<int64_t>(bytes_per_id_.size()); }
  // "bytes (vocab 256)", "bpe (vocab 2048)".
  std::string describe() const;
  // False for a SentencePiece model that normalises text or adds a dummy prefix (one
  // brought with --tokenizer-model): its pieces spell the normalised text, so bits
  // per byte count those bytes, and decoding is SentencePiece's own.
  bool keeps_bytes() const { return keeps_bytes_; }

  // SentencePiece's encoding of the valid UTF-8 in `text`; any other byte becomes its
  // byte piece (models with byte fallback).
  std::vector<int32_t> encode(std::string_view text) const;
  // The text the ids spell: each piece's text in turn (so a character cut between two
  // documents comes back as the bytes it was), or SentencePiece's decoding for a model
  // that does not keep bytes. Ids outside the vocabulary are a bug (std::out_of_range).
  std::string decode(const std::vector<int32_t>& ids) const;
  // How many bytes of text each id spells: 1 for a byte or a byte-fallback piece, a
  // piece's UTF-8 length with "▁" (U+2581, a space) counted as one byte, 0 for control
  // and unknown pieces. Summed over a text's ids it gives the text's length (for a
  // model that keeps bytes): the denominator of bits per byte (docs/tokenizers.md).
  const std::vector<int32_t>& bytes_per_id() const { return bytes_per_id_; }

 private:
  TokenizerSpec spec_;
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> processor_;  // null for bytes
  std::vector<std::string> piece_text_;  // per id, for SentencePiece
  std::vector<int32_t> byte_ids_;        // the byte-fallback piece of each byte (empty: none)
  std::vector<int32_t> bytes_per_id_;
  bool keeps_bytes_ = true;
};

// What a serialized SentencePiece ModelProto declares, read from its wire format
// (Debian ships no sentencepiece_model.pb.h); UserError naming `where` if it is not
// such a proto.
struct SentencePieceFacts {
  std::string model_type;                 // "unigram", "bpe", "word", "char"
  std::string normalization = "nmt_nfkc";  // SentencePiece's defaults where unset
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  // Whether encoding keeps the text's bytes, so that decoding piece by piece gives
  // them back and bytes_per_id sums to the text's length (models prepare trains).
  bool keeps_bytes() const { return normalization == "identity" && !add_dummy_prefix && !remove_extra_whitespaces; }
};
SentencePieceFacts read_sentencepiece_facts(std::string_view proto, const std::string& where);

// Where corpora and checkpoints keep their tokenizer: root attributes tokenizer (the
// kind) and tokenizer_vocab_size, and for SentencePiece the dataset /tokenizer_model
// (uint8, the serialized model). read_tokenizer_spec reads the kind and model (the
// caller checks the attribute is there), bounding the model's size before reading it.
TokenizerSpec read_tokenizer_spec(const H5File& file, const std::string& path);
void write_tokenizer_spec(H5File& file, const TokenizerSpec& spec, int64_t vocab_size);

std::vector<int32_t> tokenize_bytes(const std::string& text);
std::string detokenize_bytes(const std::vector<int32_t>& tokens);

// UserError unless every id is in [0, vocab): "<what>: token 200 at position 17 is
// outside <whose> vocabulary [0, 100)".
void check_token_ids(const std::vector<int32_t>& tokens, int64_t vocab, const std::string& what,
                     const std::string& whose);

}  // namespace tg
