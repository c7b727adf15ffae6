#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "core/error.h"
#include "core/hdf5_file.h"

namespace tg {

namespace {
// Protocol-buffer wire format, as far as finding one varint field inside one
// message field needs (https://protobuf.dev/programming-guides/encoding/).
class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  std::optional<uint64_t> varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && pos_ < bytes_.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(bytes_[pos_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) return value;
    }
    return std::nullopt;
  }
  // The next field: its number, and its varint value or its length-delimited bytes.
  // nullopt at damage (a length past the end, an unknown wire type).
  struct Field {
    uint64_t number;
    uint64_t value = 0;
    std::string_view bytes;
  };
  std::optional<Field> field() {
    const auto tag = varint();
    if (!tag) return std::nullopt;
    Field f{*tag >> 3, 0, {}};
    switch (*tag & 7) {
      case 0: {
        const auto v = varint();
        if (!v) return std::nullopt;
        f.value = *v;
        return f;
      }
      case 1: return skip(8) ? std::optional(f) : std::nullopt;
      case 5: return skip(4) ? std::optional(f) : std::nullopt;
      case 2: {
        const auto length = varint();
        if (!length || *length > bytes_.size() - pos_) return std::nullopt;
        f.bytes = bytes_.substr(pos_, *length);
        pos_ += *length;
        return f;
      }
      default: return std::nullopt;
    }
  }

 private:
  bool skip(size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view bytes_;
  size_t pos_ = 0;
};

// Length of the valid UTF-8 at the start of `text` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
size_t valid_utf8_prefix(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > text.size()) return i;
    uint32_t code = n == 1 ? b : b & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      if ((c & 0xC0) != 0x80) return i;
      code = (code << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[n] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += n;
  }
  return i;
}

// The text a piece spells: a byte piece its byte, a control or unknown piece
// nothing, any other its string with "▁" (U+2581) back to the space it replaced.
std::string piece_text(const sentencepiece::SentencePieceProcessor& processor, int id) {
  if (processor.IsControl(id) || processor.IsUnknown(id)) return "";
  const std::string& piece = processor.IdToPiece(id);
  if (processor.IsByte(id)) {  // "<0xA9>"
    if (piece.size() != 6) throw UserError("SentencePiece byte piece \"" + shown(piece) + "\" is not <0xNN>");
    return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
  }
  static constexpr std::string_view kSpace = "\xE2\x96\x81";
  std::string text;
  for (size_t i = 0; i < piece.size();) {
    if (std::string_view(piece).substr(i, 3) == kSpace) {
      text += ' ';
      i += 3;
    } else {
      text += piece[i++];
    }
  }
  return text;
}
}  // namespace

SentencePieceFacts read_sentencepiece_facts(std::string_view proto, const std::string& where) {
  static const char* const kTypes[] = {"", "unigram", "bpe", "word", "char"};
  bool has_pieces = false;
  uint64_t type = 1;  // TrainerSpec.model_type defaults to UNIGRAM
  SentencePieceFacts facts;
  auto each_field = [&](std::string_view message, const char* name, const auto& use) {
    WireReader reader(message);
    while (!reader.done()) {
      const auto field = reader.field();
      if (!field) throw UserError(where + ": not a SentencePiece model (damaged " + name + ")");
      use(*field);
    }
  };
  each_field(proto, "protocol buffer", [&](const WireReader::Field& f) {
    if (f.number == 1) has_pieces = true;  // ModelProto.pieces
    if (f.number == 2)                      // ModelProto.trainer_spec; its model_type = 3
      each_field(f.bytes, "trainer_spec", [&](const WireReader::Field& t) {
        if (t.number == 3) type = t.value;
      });
    if (f.number == 3)  // ModelProto.normalizer_spec: name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4
      each_field(f.bytes, "normalizer_spec", [&](const WireReader::Field& n) {
        if (n.number == 1) facts.normalization = std::string(n.bytes);
        if (n.number == 3) facts.add_dummy_prefix = n.value != 0;
        if (n.number == 4) facts.remove_extra_whitespaces = n.value != 0;
      });
  });
  if (!has_pieces) throw UserError(where + ": not a SentencePiece model (it has no pieces)");
  if (type < 1 || type > 4) throw UserError(where + ": SentencePiece model type " + std::to_string(type) + " is unknown");
  facts.model_type = kTypes[type];
  return facts;
}

Tokenizer::Tokenizer() : bytes_per_id_(256, 1) {}

Tokenizer::Tokenizer(const TokenizerSpec& spec, const std::string& where) : spec_(spec) {
  if (spec.kind == "bytes") {
    if (!spec.model.empty()) throw UserError(where + ": a bytes tokenizer carries no model");
    bytes_per_id_.assign(256, 1);
    return;
  }
  if (spec.model.empty())
    throw UserError(where + ": unknown tokenizer \"" + shown(spec.kind) +
                    "\" without a model (this tokengrow knows \"bytes\" and SentencePiece models)");
  if (static_cast<int64_t>(spec.model.size()) > kMaxTokenizerModelBytes)
    throw UserError(where + ": the tokenizer model holds " + std::to_string(spec.model.size()) + " bytes, more than " +
                    std::to_string(kMaxTokenizerModelBytes));
  const SentencePieceFacts facts = read_sentencepiece_facts(spec.model, where);
  if (facts.model_type != spec.kind)
    throw UserError(where + ": the tokenizer is said to be \"" + shown(spec.kind) + "\" but its SentencePiece model is " +
                    facts.model_type);
  keeps_bytes_ = facts.keeps_bytes();
  auto processor = std::make_shared<sentencepiece::SentencePieceProcessor>();
  const auto status = processor->LoadFromSerializedProto(spec.model);
  if (!status.ok()) throw UserError(where + ": SentencePiece cannot load the tokenizer model: " + status.ToString());
  const int pieces = processor->GetPieceSize();
  if (pieces < 1 || pieces > kMaxVocabSize)
    throw UserError(where + ": the tokenizer has " + std::to_string(pieces) + " pieces; tokengrow takes 1 to " +
                    std::to_string(kMaxVocabSize));
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", byte);
    const int id = processor->PieceToId(name);
    if (processor->IsByte(id)) byte_ids_.push_back(id);
  }
  if (byte_ids_.size() != 256) {
    byte_ids_.clear();  // no byte fallback: invalid UTF-8 is SentencePiece's to handle
    keeps_bytes_ = false;
  }
  piece_text_.resize(pieces);
  bytes_per_id_.resize(pieces);
  for (int id = 0; id < pieces; ++id) {
    piece_text_[id] = piece_text(*processor, id);
    bytes_per_id_[id] = static_cast<int32_t>(piece_text_[id].size());
  }
  processor_ = std::move(processor);
}

std::string Tokenizer::describe() const { return spec_.kind + " (vocab " + std::to_string(vocab_size()) + ")"; }

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  if (!processor_) return tokenize_bytes(std::string(text));
  std::vector<int32_t> out;
  auto encode_valid = [&](std::string_view part) {
    std::vector<int> ids;
    const auto status = processor_->Encode(part, &ids);
    if (!status.ok()) throw UserError("SentencePiece could not encode the text: " + status.ToString());
    out.insert(out.end(), ids.begin(), ids.end());
  };
  if (byte_ids_.empty()) {
    encode_valid(text);
    return out;
  }
  // SentencePiece takes ~155 bytes of memory per byte it encodes at once: a long text
  // goes in pieces of ~256 KiB cut after a line end (pieces never span one, so the ids
  // are the same), or at 1 MiB without one.
  constexpr size_t kPiece = size_t{256} << 10, kMaxPiece = size_t{1} << 20;
  if (text.size() > kMaxPiece) {
    for (size_t pos = 0; pos < text.size();) {
      size_t end = std::min(text.size(), pos + kPiece);
      if (end < text.size()) {
        const size_t newline = text.substr(0, std::min(text.size(), pos + kMaxPiece)).find('\n', end - 1);
        end = newline != std::string_view::npos ? newline + 1 : std::min(text.size(), pos + kMaxPiece);
      }
      const std::vector<int32_t> ids = encode(text.substr(pos, end - pos));
      out.insert(out.end(), ids.begin(), ids.end());
      pos = end;
    }
    return out;
  }
  // SentencePiece turns bytes that are not UTF-8 into U+FFFD, and reads a "▁" (U+2581)
  // in the text as its space marker; both go in as byte pieces instead, so that every
  // byte comes back (a character cut at a split, a Latin-1 file, a literal "▁").
  static constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";
  for (size_t pos = 0; pos < text.size();) {
    size_t valid = valid_utf8_prefix(text.substr(pos));
    const size_t marker = text.substr(pos, valid).find(kSpaceMarker);
    if (marker != std::string_view::npos) valid = marker;
    if (valid > 0) encode_valid(text.substr(pos, valid));
    pos += valid;
    const size_t raw = marker != std::string_view::npos ? kSpaceMarker.size() : 1;
    for (size_t k = 0; k < raw && pos < text.size(); ++k) out.push_back(byte_ids_[static_cast<unsigned char>(text[pos++])]);
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  if (!processor_) return detokenize_bytes(ids);
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range("Tokenizer::decode: id " + std::to_string(id) + " outside the vocabulary");
  std::string text;
  if (keeps_bytes_) {
    for (int32_t id : ids) text += piece_text_[id];
    return text;
  }
  const auto status = processor_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) throw std::runtime_error("SentencePiece could not decode: " + status.ToString());
  return text;
}

TokenizerSpec read_tokenizer_spec(const H5File& file, const std::string& path) {
  TokenizerSpec spec;
  spec.kind = file.get_attr_string("/", "tokenizer");
  if (file.exists("tokenizer_model")) {
    const std::vector<int64_t> shape = file.shape("tokenizer_model");
    if (shape.size() != 1 || shape[0] > kMaxTokenizerModelBytes)
      throw UserError(path + ": /tokenizer_model is not a 1-D dataset of at most " +
                      std::to_string(kMaxTokenizerModelBytes) + " bytes");
    const std::vector<uint8_t> bytes = file.read_bytes_u8("tokenizer_model");
    spec.model.assign(bytes.begin(), bytes.end());
  }
  return spec;
}

void write_tokenizer_spec(H5File& file, const TokenizerSpec& spec, int64_t vocab_size) {
  file.set_attr("/", "tokenizer", spec.kind);
  file.set_attr("/", "tokenizer_vocab_size", vocab_size);
  if (!spec.model.empty())
    file.write_bytes_u8("tokenizer_model", std::vector<uint8_t>(spec.model.begin(), spec.model.end()));
}

std::vector<int32_t> tokenize_bytes(const std::string& text) {
  std::vector<int32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i) tokens[i] = static_cast<unsigned char>(text[i]);
  return tokens;
}

std::string detokenize_bytes(const std::vector<int32_t>& tokens) {
  std::string text(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] > 255)
      throw std::out_of_range("detokenize_bytes: token " + std::to_string(tokens[i]) + " is not a byte");
    text[i] = static_cast<char>(tokens[i]);
  }
  return text;
}

void check_token_ids(const std::vector<int32_t>& tokens, int64_t vocab, const std::string& what,
                     const std::string& whose) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw UserError(what + ": token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                      " is outside " + whose + " vocabulary [0, " + std::to_string(vocab) + ")");
}

}  // namespace tg
