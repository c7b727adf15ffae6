#pragma once
// The names an enum is written with in configs, flags and files, kept in one table per
// enum: to_string and parse read the same pairs, so a name can never be added to one
// direction and forgotten in the other.
//
//   inline constexpr EnumNames<Precision, 2> kPrecisionNames{
//       "precision", {{{Precision::FP32, "fp32"}, {Precision::BF16, "bf16"}}}};
//   kPrecisionNames.parse("bf16") -> Precision::BF16
//   kPrecisionNames.parse("fp16") -> UserError: unknown precision "fp16" (expected fp32 or bf16)
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace tg {

template <class E>
struct EnumName {
  E value;
  const char* name;
};

template <class E, size_t N>
struct EnumNames {
  const char* what;  // what the names are of, for errors: "precision", "tau"
  std::array<EnumName<E>, N> names;

  std::string to_string(E value) const {
    for (const auto& [v, name] : names)
      if (v == value) return name;
    return "?";
  }

  E parse(std::string_view name) const {
    for (const auto& [v, n] : names)
      if (name == n) return v;
    throw UserError("unknown " + std::string(what) + " \"" + std::string(name) + "\" (expected " + listed() + ")");
  }

  // The accepted names in table order, for ConfigReader::get_string's `allowed`.
  std::vector<std::string> all() const {
    std::vector<std::string> out;
    for (const auto& entry : names) out.emplace_back(entry.name);
    return out;
  }

  // "a, b or c"
  std::string listed() const {
    std::string out;
    for (size_t i = 0; i < N; ++i) out += (i == 0 ? "" : i + 1 == N ? " or " : ", ") + std::string(names[i].name);
    return out;
  }
};

}  // namespace tg
