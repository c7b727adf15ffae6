#include "experiment/experiment_config.h"

#include <cstdio>
#include <set>

#include "core/config_reader.h"
#include "core/error.h"

namespace tg {

namespace {
StageSpec parse_stage(ConfigReader r, bool first) {
  StageSpec s;
  const int64_t big = int64_t{1} << 40;
  s.qkv_tokens = r.get_int("qkv_tokens", std::nullopt, 1, 1 << 20);
  s.proj_tokens = r.get_int("proj_tokens", std::nullopt, 1, 1 << 20);
  s.ffn_tokens = r.get_int("ffn_tokens", std::nullopt, 1, 1 << 20);
  const bool has_tokens = r.has("tokens"), has_match = r.has("match_scratch_tokens");
  if (has_tokens == has_match) r.fail("tokens", "give exactly one of \"tokens\" or \"match_scratch_tokens\"");
  if (has_tokens) s.tokens = r.get_int("tokens", std::nullopt, 1, big);
  if (has_match) s.match_scratch_tokens = r.get_int("match_scratch_tokens", std::nullopt, 1, big);
  if (r.has("train")) {
    ConfigReader t = r.get_object("train");
    (void)t;
    s.train_overrides = r.raw("train");
    if (s.train_overrides.contains("steps")) r.fail("train", "\"steps\" is set by the stage's tokens, not here");
  }
  if (r.has("growth")) {
    if (first) r.fail("growth", "the first stage is trained from scratch; growth options belong to later stages");
    s.growth = parse_growth_options(r.get_object("growth"));
  }
  r.finish();
  return s;
}
}  // namespace

RunConfig ExperimentConfig::run_config(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                                       int64_t steps, uint64_t seed, const std::string& where) const {
  nlohmann::json m = model, t = train;
  for (auto it = model_overrides.begin(); it != model_overrides.end(); ++it) m[it.key()] = it.value();
  for (auto it = train_overrides.begin(); it != train_overrides.end(); ++it) t[it.key()] = it.value();
  t["steps"] = steps;
  t["seed"] = seed;
  return parse_run_config({{"data", data_path}, {"model", m}, {"train", t}}, file + " (" + where + ")");
}

std::string frontier_budget_name(double budget) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", budget);
  return buf;
}

ExperimentConfig load_experiment_config(const std::string& path) {
  ConfigReader r(read_json_file(path), path, "");
  ExperimentConfig c;
  c.file = path;
  c.description = r.get_string("description", "");
  c.data_path = r.get_string("data", std::nullopt);
  {
    ConfigReader m = r.get_object("model");
    (void)m;
  }
  c.model = r.raw("model");
  if (!c.model.is_object()) r.fail("model", "expected a JSON object");
  for (const char* k : {"qkv_tokens", "proj_tokens", "ffn_tokens"})
    if (c.model.contains(k)) r.fail(std::string("model.") + k, "token counts are set per stage (recipes[].stages[])");
  c.train = r.has("train") ? r.raw("train") : nlohmann::json::object();
  if (!c.train.is_object()) r.fail("train", "expected a JSON object");
  if (c.train.contains("steps")) r.fail("train.steps", "steps are set by each stage's token budget");
  if (c.train.contains("seed")) r.fail("train.seed", "use the top-level \"seeds\" list");

  if (r.has("seeds")) {
    const auto& seeds = r.raw("seeds");
    if (!seeds.is_array() || seeds.empty()) r.fail("seeds", "expected a non-empty list of integers");
    c.seeds.clear();
    std::set<uint64_t> seen;
    for (const auto& s : seeds) {
      if (!s.is_number_integer() || s.get<int64_t>() < 0) r.fail("seeds", "expected non-negative integers, got " + s.dump());
      if (!seen.insert(s.get<uint64_t>()).second)
        r.fail("seeds", s.dump() + " is listed twice; a repeated seed trains identical runs and fakes a spread of 0 "
                        "(list each seed once)");
      c.seeds.push_back(s.get<uint64_t>());
    }
  } else {
    r.raw("seeds");  // required
  }

  const auto& recipes = r.raw("recipes");
  if (!recipes.is_array() || recipes.empty()) r.fail("recipes", "expected a non-empty list of recipes");
  std::set<std::string> names;
  for (size_t i = 0; i < recipes.size(); ++i) {
    const std::string where = "recipes[" + std::to_string(i) + "]";
    ConfigReader rr(recipes[i], path, where);
    RecipeSpec recipe;
    recipe.name = rr.get_string("name", std::nullopt);
    if (recipe.name.empty() || recipe.name.find_first_of("/ \\") != std::string::npos)
      rr.fail("name", "expected a non-empty name without spaces or slashes");
    if (!names.insert(recipe.name).second) rr.fail("name", "duplicate recipe name \"" + recipe.name + "\"");
    const auto& stages = rr.raw("stages");
    if (!stages.is_array() || stages.empty()) rr.fail("stages", "expected a non-empty list of stages");
    for (size_t k = 0; k < stages.size(); ++k) {
      recipe.stages.push_back(parse_stage(ConfigReader(stages[k], path, where + ".stages[" + std::to_string(k) + "]"), k == 0));
      const StageSpec& s = recipe.stages.back();
      if (k > 0) {
        const StageSpec& p = recipe.stages[k - 1];
        if (s.qkv_tokens < p.qkv_tokens || s.proj_tokens < p.proj_tokens || s.ffn_tokens < p.ffn_tokens)
          rr.fail("stages[" + std::to_string(k) + "]", "token counts must not shrink from one stage to the next (growth only appends tokens)");
      } else if (s.match_scratch_tokens > 0) {
        rr.fail("stages[0].match_scratch_tokens", "the first stage needs \"tokens\"");
      }
      // Validate the stage's model and train settings now, not hours into the run.
      c.run_config({{"qkv_tokens", s.qkv_tokens}, {"proj_tokens", s.proj_tokens}, {"ffn_tokens", s.ffn_tokens}},
                   s.train_overrides, int64_t{1} << 30, 0, where + ".stages[" + std::to_string(k) + "]");
    }
    rr.finish();
    c.recipes.push_back(std::move(recipe));
  }

  ConfigReader b = r.get_object("baselines");
  if (b.has("frontier_budgets")) {
    const auto& budgets = b.raw("frontier_budgets");
    if (!budgets.is_array()) b.fail("frontier_budgets", "expected a list of positive numbers");
    c.baselines.frontier_budgets.clear();
    std::set<std::string> seen;  // by run name: budgets that print alike would share a directory
    for (const auto& x : budgets) {
      if (!x.is_number() || !(x.get<double>() > 0)) b.fail("frontier_budgets", "expected positive numbers, got " + x.dump());
      const std::string name = frontier_budget_name(x.get<double>());
      if (!seen.insert(name).second)
        b.fail("frontier_budgets", x.dump() + " is listed twice (run frontier-" + name + "x); a repeated budget "
                                   "trains identical runs and fakes a spread of 0 (list each budget once)");
      c.baselines.frontier_budgets.push_back(x.get<double>());
    }
  }
  c.baselines.stage_sizes = b.get_bool("stage_sizes", true);
  c.baselines.transformer = b.get_bool("transformer", true);
  b.finish();
  r.finish();
  return c;
}

}  // namespace tg
