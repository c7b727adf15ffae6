#pragma once
// Strict, typed access to one JSON object of a config file. Every error names the
// file, the full key path, the value found and what was expected; keys that were
// never read are reported as unknown by finish(), so a typo never passes silently.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/enum_names.h"

namespace tg {

class ConfigReader {
 public:
  // `where` is the path of this object inside the file ("" for the root, "model", ...).
  ConfigReader(const nlohmann::json& object, std::string file, std::string where);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key, std::optional<int64_t> fallback, int64_t min, int64_t max);
  double get_double(const std::string& key, std::optional<double> fallback, double min, double max);
  bool get_bool(const std::string& key, std::optional<bool> fallback);
  // Strings holding a NUL character (JSON "\u0000") are refused: every string is a
  // name, a choice or a path, which a NUL would silently cut short.
  std::string get_string(const std::string& key, std::optional<std::string> fallback,
                         const std::vector<std::string>& allowed = {});
  // One of the names in `names` (core/enum_names.h), as its value; `fallback` when absent.
  template <class E, size_t N>
  E get_enum(const std::string& key, E fallback, const EnumNames<E, N>& names) {
    return names.parse(get_string(key, names.to_string(fallback), names.all()));
  }
  // A file path: a non-empty string (without NUL).
  std::string get_path(const std::string& key, std::optional<std::string> fallback, const std::string& what);
  // A nested object; an absent key gives an empty object.
  ConfigReader get_object(const std::string& key);
  const nlohmann::json& raw(const std::string& key);

  // Throws on keys that no getter asked for.
  void finish() const;

  // "file: key.path: message"
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  std::string key_path(const std::string& key) const;

 private:
  const nlohmann::json* find(const std::string& key);
  nlohmann::json object_;
  std::string file_, where_;
  std::set<std::string> read_;
};

// The deepest nesting of objects and arrays a config may have (configs need a
// handful; the bound keeps crafted input from exhausting the stack later).
inline constexpr int kMaxJsonDepth = 64;

// Parses JSON text strictly: a key given twice in one object (where nlohmann would
// keep the last) and nesting deeper than kMaxJsonDepth are errors, like bad JSON.
// UserErrors name `file` (and the key path for a duplicate).
nlohmann::json parse_json_text(const std::string& text, const std::string& file);

// Reads (a regular file only: core/file_status.h) and parses a JSON file with
// parse_json_text; UserError naming the file otherwise.
nlohmann::json read_json_file(const std::string& path);

}  // namespace tg
