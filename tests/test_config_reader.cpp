// The config reader: strict JSON (no duplicate keys, bounded nesting), typed
// getters that refuse NUL characters and empty paths, and files read only when
// they are regular files.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/config_reader.h"
#include "core/error.h"
#include "core/file_status.h"
#include "test_data.h"

using namespace tg;
using tg::testing::TempDir;
using tg::testing::user_error_of;
using tg::testing::write_file;
namespace fs = std::filesystem;

namespace {
bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("parse_json_text refuses a key given twice in one object, naming its path", "[config]") {
  std::string m = user_error_of([] { parse_json_text(R"({"train": {"lr": 0.001, "lr": 5}})", "c.json"); });
  INFO(m);
  REQUIRE(contains(m, "c.json: train.lr: duplicate key"));
  m = user_error_of([] { parse_json_text(R"({"a": 1, "b": 2, "a": 1})", "c.json"); });
  REQUIRE(contains(m, "c.json: a: duplicate key"));
  // Inside an array of objects: each object has its own keys; a repeat within one is caught.
  REQUIRE(parse_json_text(R"({"runs": [{"name": "x"}, {"name": "y"}]})", "e.json")["runs"][1]["name"] == "y");
  m = user_error_of([] { parse_json_text(R"({"runs": [{"name": "x"}, {"name": "y", "name": "z"}]})", "e.json"); });
  REQUIRE(contains(m, "e.json: runs.name: duplicate key"));
  // The same key in sibling and nested objects is not a duplicate.
  const auto j = parse_json_text(R"({"lr": 1, "train": {"lr": 2, "x": {"lr": 3}}, "model": {"lr": 4}})", "c.json");
  REQUIRE(j["train"]["x"]["lr"] == 3);
  REQUIRE(j["lr"] == 1);
}

TEST_CASE("parse_json_text bounds the nesting depth before building anything", "[config]") {
  const std::string deep_ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  REQUIRE(parse_json_text(deep_ok, "ok.json").is_array());
  const std::string too_deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  REQUIRE(contains(user_error_of([&] { parse_json_text(too_deep, "deep.json"); }), "deep.json: objects and arrays nested deeper than 64"));
  // 60,000 unclosed brackets (objects and arrays mixed): refused at depth 65, no stack exhausted.
  std::string crafted = R"({"data": )";
  for (int i = 0; i < 30000; ++i) crafted += R"([{"a": )";
  REQUIRE(contains(user_error_of([&] { parse_json_text(crafted, "crafted.json"); }), "nested deeper than"));
  REQUIRE(contains(user_error_of([] { parse_json_text("{\"data\": ", "cut.json"); }), "cut.json: not valid JSON"));
}

TEST_CASE("ConfigReader refuses NUL characters in strings and empty paths", "[config]") {
  const auto j = parse_json_text(R"({"data": "corpus.h5\u0000.txt", "empty": "", "name": "ok"})", "c.json");
  ConfigReader r(j, "c.json", "");
  const std::string m = user_error_of([&] { r.get_path("data", std::nullopt, "a corpus file"); });
  REQUIRE(contains(m, "c.json: data: contains a NUL character"));
  REQUIRE(contains(m, "corpus.h5\\u0000.txt"));
  REQUIRE(contains(user_error_of([&] { r.get_path("empty", std::nullopt, "a corpus file"); }),
                   "c.json: empty: is empty; expected the path of a corpus file"));
  REQUIRE(r.get_string("name", std::nullopt) == "ok");
}

TEST_CASE("Unknown keys are shown cut short and escaped, one line", "[config]") {
  const std::string key = std::string(500, 'k') + "\nmore";
  nlohmann::json j = nlohmann::json::object();
  j[key] = 1;
  ConfigReader r(j, "c.json", "model");
  const std::string m = user_error_of([&] { r.finish(); });
  INFO(m);
  REQUIRE(contains(m, "c.json: model.kkkk"));
  REQUIRE(contains(m, "...: unknown key"));
  REQUIRE(m.find('\n') == std::string::npos);
  REQUIRE(m.size() < 200);
  REQUIRE(shown(std::string(100, 'x')).size() == 60);
  REQUIRE(shown("a\x01") == "a\\x01");
  REQUIRE(shown("short") == "short");
}

TEST_CASE("read_json_file reads regular files only and says why not", "[config]") {
  TempDir dir("config_files");
  write_file(dir.file("ok.json"), R"({"a": 1})");
  REQUIRE(read_json_file(dir.file("ok.json"))["a"] == 1);
  REQUIRE(contains(user_error_of([&] { read_json_file(dir.file("absent.json")); }), "absent.json: no such file"));
  std::string m = user_error_of([&] { read_json_file(dir.path().string()); });
  REQUIRE(contains(m, "is a directory, not a file"));
  REQUIRE_FALSE(contains(m, "JSON"));
  // A FIFO with no writer: opening it the ordinary way blocks forever.
  REQUIRE(::mkfifo(dir.file("fifo.json").c_str(), 0600) == 0);
  m = user_error_of([&] { read_json_file(dir.file("fifo.json")); });
  REQUIRE(contains(m, "fifo.json: not a regular file (a FIFO)"));
  // A path the OS cannot resolve gives its reason.
  fs::create_symlink(dir.file("loop.json"), dir.file("loop.json"));
  m = user_error_of([&] { read_json_file(dir.file("loop.json")); });
  REQUIRE(contains(m, "loop.json: cannot open config file: Too many levels of symbolic links"));
  REQUIRE(contains(regular_file_problem(dir.file("loop.json")), "cannot read: Too many levels of symbolic links"));
  REQUIRE(contains(user_error_of([&] { read_regular_file(dir.file("fifo.json"), "text file"); }), "expected a text file"));
}
