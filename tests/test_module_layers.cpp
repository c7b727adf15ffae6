// The modules of src/ are layered, arrows one way:
//   core -> {layers, data, dist} -> model -> train -> inference -> {growth, bench} -> experiment
//   -> cli -> main.cpp
// A file may include its own module and modules below it, never one above it or
// beside it. growth and bench share a level: both build on train and inference (the
// packed model file, which bench times), neither on the other. data (tokenizers and
// corpora) and dist (the MPI processes) build on core alone: train reads data, only cli
// and main.cpp use dist; model, though above them, includes neither (core and layers only).
// The check reads every #include "..." in src/ and fails on the first test below if a
// file reaches up or sideways, or if a new directory appears that has no place here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {
// Level of each module directory under src/ (src/main.cpp, module "", is the top);
// -1 for a directory that has no place in the layering.
int module_level(const std::string& module) {
  const std::map<std::string, int> levels = {
      {"core", 0},      {"layers", 1}, {"data", 1},  {"dist", 1},       {"model", 2}, {"train", 3},
      {"inference", 4}, {"growth", 5}, {"bench", 5}, {"experiment", 6}, {"cli", 7},   {"", 8}};
  const auto found = levels.find(module);
  return found == levels.end() ? -1 : found->second;
}

// Lower modules a module still may not include: a model is built from core and layers alone.
bool excluded_below(const std::string& from, const std::string& to) {
  return from == "model" && (to == "data" || to == "dist");
}

bool may_include(const std::string& from, const std::string& to) {
  if (from == to) return true;
  if (excluded_below(from, to)) return false;
  const int to_level = module_level(to);
  return to_level >= 0 && to_level < module_level(from);
}

// One line per include that runs against the arrows, or per file in an unknown module.
std::vector<std::string> layer_violations(const fs::path& src) {
  std::vector<std::string> violations;
  const std::regex include_line(R"(^\s*#\s*include\s*"([^"]*)\")");
  for (const auto& entry : fs::recursive_directory_iterator(src)) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
    const fs::path relative = fs::relative(entry.path(), src);
    const std::string from = relative.has_parent_path() ? relative.begin()->string() : "";
    const std::string where = "src/" + relative.generic_string();
    if (module_level(from) < 0) {
      violations.push_back(where + ": module '" + from + "' has no level in the layering");
      continue;
    }
    std::ifstream in(entry.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (!std::regex_search(line, m, include_line)) continue;
      const std::string target = m[1];
      const size_t slash = target.find('/');
      // "x.h" without a directory resolves next to the including file: its own module.
      const std::string to = slash == std::string::npos ? from : target.substr(0, slash);
      if (target.find("..") != std::string::npos || !may_include(from, to))
        violations.push_back(where + " includes \"" + target + "\" against the layering");
    }
  }
  return violations;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}
}  // namespace

TEST_CASE("no file in src/ includes a module above or beside its own", "[layout]") {
  const std::vector<std::string> violations = layer_violations(fs::path(TOKENGROW_SOURCE_DIR) / "src");
  for (const auto& v : violations) UNSCOPED_INFO(v);
  REQUIRE(violations.empty());
}

TEST_CASE("the layering check finds includes that run up, sideways or out of a module", "[layout]") {
  const fs::path src = fs::temp_directory_path() / "tokengrow_layers_test" / "src";
  fs::remove_all(src.parent_path());
  write_file(src / "core/a.h", "#include \"core/b.h\"\n#include <vector>\n");
  write_file(src / "train/t.cpp", "#include \"model/m.h\"\n#include \"train/t.h\"\n#include \"local.h\"\n");
  write_file(src / "train/c.cpp", "#include \"data/corpus.h\"\n");
  write_file(src / "bench/i.cpp", "#include \"inference/packed_model.h\"\n");
  write_file(src / "experiment/e.cpp", "#include \"growth/g.h\"\n#include \"bench/b.h\"\n");
  write_file(src / "main.cpp", "#include \"cli/cli.h\"\n");
  CHECK(layer_violations(src).empty());

  write_file(src / "train/up.cpp", "#include \"core/a.h\"\n  #  include \"growth/grow.h\"\n");
  write_file(src / "growth/side.h", "#include \"bench/train_bench.h\"\n");
  write_file(src / "growth/out.h", "#include \"../experiment/e.h\"\n");
  write_file(src / "core/top.h", "#include \"cli/cli.h\"\n");
  write_file(src / "data/up.h", "#include \"model/m.h\"\n#include \"layers/l.h\"\n");
  write_file(src / "train/up.h", "#include \"inference/packed_model.h\"\n");
  write_file(src / "model/d.cpp", "#include \"layers/l.h\"\n#include \"data/corpus.h\"\n#include \"dist/mpi.h\"\n");
  write_file(src / "plugins/p.h", "#include \"core/a.h\"\n");
  std::vector<std::string> violations = layer_violations(src);
  std::sort(violations.begin(), violations.end());
  REQUIRE(violations == std::vector<std::string>{
                            "src/core/top.h includes \"cli/cli.h\" against the layering",
                            "src/data/up.h includes \"layers/l.h\" against the layering",
                            "src/data/up.h includes \"model/m.h\" against the layering",
                            "src/growth/out.h includes \"../experiment/e.h\" against the layering",
                            "src/growth/side.h includes \"bench/train_bench.h\" against the layering",
                            "src/model/d.cpp includes \"data/corpus.h\" against the layering",
                            "src/model/d.cpp includes \"dist/mpi.h\" against the layering",
                            "src/plugins/p.h: module 'plugins' has no level in the layering",
                            "src/train/up.cpp includes \"growth/grow.h\" against the layering",
                            "src/train/up.h includes \"inference/packed_model.h\" against the layering",
                        });
  fs::remove_all(src.parent_path());
}
