#pragma once
// A 64-bit FNV-1a checksum over a sequence of byte ranges: cheap, deterministic,
// and enough to tell a damaged checkpoint from a good one (not a defence against
// deliberate tampering).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg {

class Checksum {
 public:
  void add(const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < bytes; ++i) {
      hash_ ^= p[i];
      hash_ *= 0x100000001B3ull;
    }
  }
  void add(const std::string& s) {
    const uint64_t n = s.size();
    add(&n, sizeof n);  // length first, so "ab"+"c" differs from "a"+"bc"
    add(s.data(), s.size());
  }
  template <class T>
  void add_value(const T& v) { add(&v, sizeof v); }
  template <class T>
  void add_vector(const std::vector<T>& v) {
    add_value<uint64_t>(v.size());
    add(v.data(), v.size() * sizeof(T));
  }
  uint64_t value() const { return hash_; }
  std::string hex() const {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 0; i < 16; ++i) s[15 - i] = digits[(hash_ >> (4 * i)) & 0xF];
    return s;
  }

 private:
  uint64_t hash_ = 0xCBF29CE484222325ull;
};

}  // namespace tg
