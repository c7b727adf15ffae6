#include "core/config_reader.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/file_status.h"

namespace tg {

namespace {
std::string show(const nlohmann::json& value) {
  std::string s = value.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}
}  // namespace

ConfigReader::ConfigReader(const nlohmann::json& object, std::string file, std::string where)
    : object_(object), file_(std::move(file)), where_(std::move(where)) {
  if (object_.is_null()) object_ = nlohmann::json::object();
  if (!object_.is_object())
    throw UserError(file_ + ": " + (where_.empty() ? "the top level" : where_) + ": expected a JSON object, got " +
                    show(object_));
}

std::string ConfigReader::key_path(const std::string& key) const {
  return where_.empty() ? shown(key) : where_ + "." + shown(key);
}

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  throw UserError(file_ + ": " + key_path(key) + ": " + message);
}

bool ConfigReader::has(const std::string& key) const { return object_.contains(key); }

const nlohmann::json* ConfigReader::find(const std::string& key) {
  read_.insert(key);
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

const nlohmann::json& ConfigReader::raw(const std::string& key) {
  const auto* value = find(key);
  if (!value) fail(key, "missing (required)");
  return *value;
}

int64_t ConfigReader::get_int(const std::string& key, std::optional<int64_t> fallback, int64_t min, int64_t max) {
  const auto* value = find(key);
  if (!value) {
    if (!fallback) fail(key, "missing (required; expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "])");
    return *fallback;
  }
  const std::string expected = "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!value->is_number_integer()) fail(key, expected + ", got " + show(*value));
  const int64_t v = value->get<int64_t>();
  if (v < min || v > max) fail(key, expected + ", got " + show(*value));
  return v;
}

double ConfigReader::get_double(const std::string& key, std::optional<double> fallback, double min, double max) {
  const auto* value = find(key);
  std::ostringstream range;
  range << "expected a number in [" << min << ", " << max << "]";
  if (!value) {
    if (!fallback) fail(key, "missing (required; " + range.str() + ")");
    return *fallback;
  }
  if (!value->is_number()) fail(key, range.str() + ", got " + show(*value));
  const double v = value->get<double>();
  if (!std::isfinite(v) || v < min || v > max) fail(key, range.str() + ", got " + show(*value));
  return v;
}

bool ConfigReader::get_bool(const std::string& key, std::optional<bool> fallback) {
  const auto* value = find(key);
  if (!value) {
    if (!fallback) fail(key, "missing (required; expected true or false)");
    return *fallback;
  }
  if (!value->is_boolean()) fail(key, "expected true or false, got " + show(*value));
  return value->get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, std::optional<std::string> fallback,
                                     const std::vector<std::string>& allowed) {
  std::string expected = "expected a string";
  if (!allowed.empty()) {
    expected = "expected one of";
    for (size_t i = 0; i < allowed.size(); ++i) expected += (i ? ", \"" : " \"") + allowed[i] + "\"";
  }
  const auto* value = find(key);
  if (!value) {
    if (!fallback) fail(key, "missing (required; " + expected + ")");
    return *fallback;
  }
  if (!value->is_string()) fail(key, expected + ", got " + show(*value));
  const std::string v = value->get<std::string>();
  if (v.find('\0') != std::string::npos) fail(key, "contains a NUL character (\\u0000), got " + show(*value));
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    fail(key, expected + ", got " + show(*value));
  return v;
}

std::string ConfigReader::get_path(const std::string& key, std::optional<std::string> fallback,
                                   const std::string& what) {
  const std::string path = get_string(key, std::move(fallback));
  if (path.empty()) fail(key, "is empty; expected the path of " + what);
  return path;
}

ConfigReader ConfigReader::get_object(const std::string& key) {
  const auto* value = find(key);
  if (value && !value->is_object()) fail(key, "expected a JSON object, got " + show(*value));
  return ConfigReader(value ? *value : nlohmann::json::object(), file_, key_path(key));
}

void ConfigReader::finish() const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (read_.count(it.key())) continue;
    std::string known;
    for (const auto& k : read_) known += (known.empty() ? "" : ", ") + k;
    fail(it.key(), "unknown key (known keys here: " + known + ")");
  }
}

namespace {
// Where the parser is: one frame per open object or array, with an object's keys
// so far and the one being read (for a duplicate's path, "train.lr").
struct JsonFrame {
  bool is_object = false;
  std::set<std::string> keys;
  std::string key;
};

std::string frames_path(const std::vector<JsonFrame>& frames) {
  std::string path;
  for (const JsonFrame& f : frames) {
    if (!f.is_object) continue;
    path += (path.empty() ? "" : ".") + shown(f.key);
  }
  return path;
}
}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& file) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<JsonFrame> frames;
  // Called by the parser for every event, before any value is built into the tree.
  auto check = [&](int depth, Event event, const nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (depth >= kMaxJsonDepth)
          throw UserError(file + ": objects and arrays nested deeper than " + std::to_string(kMaxJsonDepth) +
                          " levels; a config needs a few");
        frames.push_back({event == Event::object_start, {}, {}});
        break;
      case Event::object_end:
      case Event::array_end:
        frames.pop_back();
        break;
      case Event::key: {
        JsonFrame& object = frames.back();
        object.key = parsed.get<std::string>();
        if (!object.keys.insert(object.key).second)
          throw UserError(file + ": " + frames_path(frames) +
                          ": duplicate key (given twice in one object; JSON readers would silently keep one)");
        break;
      }
      case Event::value:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, check);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for numbers beyond double (found by fuzz_config).
    throw UserError(file + ": not valid JSON: " + shown(e.what(), 200));
  }
}

nlohmann::json read_json_file(const std::string& path) {
  return parse_json_text(read_regular_file(path, "config file"), path);
}

}  // namespace tg
