#pragma once
// Errors a user can fix (bad config, missing file, wrong flag). The CLI prints the
// message on one line and exits with code 2; everything else is a bug and exits 1.
#include <cstdio>
#include <stdexcept>
#include <string>

namespace tg {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

// `text` as an error message quotes it: control characters escaped ("\n", "\x01")
// and cut to `max` characters with "...", so a mistyped key, a pasted blob or
// binary junk keeps the message one short line.
inline std::string shown(const std::string& text, size_t max = 60) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    }
  }
  if (out.size() <= max) return out;
  size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
  return out.substr(0, cut) + "...";
}

}  // namespace tg
