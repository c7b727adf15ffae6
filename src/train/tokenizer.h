#pragma once
// Tokenizers: text to token ids and back. A corpus records the name of the one that
// made it (attribute "tokenizer"), and so does every checkpoint (the tokenizer of
// the corpus it was trained on), so eval --text and sample turn text into the ids
// the model was trained on rather than assuming one. Only "bytes" exists yet: one
// token per byte, vocabulary 256.
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

enum class Tokenizer { Bytes };

// UserError "<where>: unknown tokenizer "x" (this tokengrow knows "bytes")".
Tokenizer parse_tokenizer(const std::string& name, const std::string& where);
std::string to_string(Tokenizer tokenizer);
int64_t vocab_size(Tokenizer tokenizer);

std::vector<int32_t> tokenize(Tokenizer tokenizer, const std::string& text);
// Ids outside the tokenizer's vocabulary are a bug (std::out_of_range).
std::string detokenize(Tokenizer tokenizer, const std::vector<int32_t>& tokens);

std::vector<int32_t> tokenize_bytes(const std::string& text);
std::string detokenize_bytes(const std::vector<int32_t>& tokens);

// UserError unless every id is in [0, vocab): "<what>: token 200 at position 17 is
// outside <whose> vocabulary [0, 100)".
void check_token_ids(const std::vector<int32_t>& tokens, int64_t vocab, const std::string& what,
                     const std::string& whose);

}  // namespace tg
