// Documentation that must stay in step with the code.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "train/run_config.h"

using namespace tg;

namespace {
// Keys in the first column of the markdown table under "## `section`".
std::set<std::string> documented_keys(const std::string& doc, const std::string& section) {
  std::set<std::string> keys;
  const size_t start = doc.find("## `" + section + "`");
  REQUIRE(start != std::string::npos);
  const size_t end = doc.find("\n## ", start + 1);
  std::istringstream lines(doc.substr(start, end == std::string::npos ? std::string::npos : end - start));
  std::string line;
  const std::regex row(R"(^\| `([a-z_0-9]+)` \|)");
  std::smatch m;
  while (std::getline(lines, line))
    if (std::regex_search(line, m, row)) keys.insert(m[1]);
  return keys;
}

std::set<std::string> json_keys(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}
}  // namespace

TEST_CASE("docs/config.md documents exactly the keys the config parser accepts", "[docs]") {
  std::ifstream in(std::string(TOKENGROW_SOURCE_DIR) + "/docs/config.md");
  REQUIRE(in.good());
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string doc = buffer.str();
  const RunConfig defaults;
  REQUIRE(documented_keys(doc, "model") == json_keys(defaults.model.to_json()));
  REQUIRE(documented_keys(doc, "train") == json_keys(defaults.train.to_json()));
}

TEST_CASE("configs/quickstart-bpe.json is the quick start with only its corpus changed", "[docs][tokenizer]") {
  auto read = [](const std::string& name) {
    std::ifstream in(std::string(TOKENGROW_SOURCE_DIR) + "/configs/" + name);
    REQUIRE(in.good());
    return nlohmann::json::parse(in);
  };
  nlohmann::json bytes = read("quickstart.json"), bpe = read("quickstart-bpe.json");
  REQUIRE(bytes["data"] == "data/kjv.h5");
  REQUIRE(bpe["data"] == "data/kjv-bpe.h5");
  for (auto* config : {&bytes, &bpe}) {
    config->erase("data");
    config->erase("description");
  }
  REQUIRE(bytes == bpe);
}
