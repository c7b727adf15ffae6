#include "train/tokenizer.h"

#include <stdexcept>

#include "core/error.h"

namespace tg {

Tokenizer parse_tokenizer(const std::string& name, const std::string& where) {
  if (name == "bytes") return Tokenizer::Bytes;
  throw UserError(where + ": unknown tokenizer \"" + shown(name) + "\" (this tokengrow knows \"bytes\")");
}

std::string to_string(Tokenizer) { return "bytes"; }

int64_t vocab_size(Tokenizer) { return 256; }

std::vector<int32_t> tokenize(Tokenizer, const std::string& text) { return tokenize_bytes(text); }

std::string detokenize(Tokenizer, const std::vector<int32_t>& tokens) { return detokenize_bytes(tokens); }

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
