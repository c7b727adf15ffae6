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

namespace tg {

class ConfigReader {
 public:
  // `where` is the path of this object inside the file ("" for the root, "model", ...).
  ConfigReader(const nlohmann::json& object, std::string file, std::string where);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key, std::optional<int64_t> fallback, int64_t min, int64_t max);
  double get_double(const std::string& key, std::optional<double> fallback, double min, double max);
  bool get_bool(const std::string& key, std::optional<bool> fallback);
  std::string get_string(const std::string& key, std::optional<std::string> fallback,
                         const std::vector<std::string>& allowed = {});
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

// Reads and parses a JSON file, UserError naming the file on a missing file or bad JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace tg
