#include "experiment/experiment_config.h"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "core/config_reader.h"
#include "core/error.h"
#include "growth/grow.h"

namespace tg {

namespace {
// The keys a stage may set about its size; a later stage inherits those it leaves out
// from the stage before (n_heads and ffn_hidden widen with d_model, width_map.h).
struct StageSizeKey {
  const char* name;
  int64_t most;  // the largest value accepted
};
constexpr StageSizeKey kStageSizeKeys[] = {
    {"qkv_tokens", kMaxTokens}, {"proj_tokens", kMaxTokens}, {"ffn_tokens", kMaxTokens}, {"n_layers", kMaxLayers},
    {"d_model", kMaxDModel},    {"n_heads", kMaxHeads},      {"ffn_hidden", kMaxHidden}};

// `timed`: the first stage of a recipe with grow_at, whose budget grow_at sets. Reads the
// stage's own size keys into s.model (the caller resolves the rest).
StageSpec parse_stage(ConfigReader r, bool first, bool timed) {
  StageSpec s;
  const int64_t big = int64_t{1} << 40;
  for (const StageSizeKey& key : kStageSizeKeys)
    if (r.has(key.name)) s.model[key.name] = r.get_int(key.name, std::nullopt, 1, key.most);
  const bool has_tokens = r.has("tokens"), has_match = r.has("match_scratch_tokens");
  if (timed && (has_tokens || has_match))
    r.fail(has_tokens ? "tokens" : "match_scratch_tokens",
           "the recipe's grow_at sets the first stage's budget; leave \"tokens\" out here");
  if (!timed && has_tokens == has_match) r.fail("tokens", "give exactly one of \"tokens\" or \"match_scratch_tokens\"");
  if (has_tokens) s.tokens = r.get_int("tokens", std::nullopt, 1, big);
  if (has_match) s.match_scratch_tokens = r.get_int("match_scratch_tokens", std::nullopt, 1, big);
  if (r.has("train")) {
    r.get_object("train");  // checks that it is an object; run_config reads its keys
    s.train_overrides = r.raw("train");
    if (s.train_overrides.contains("steps")) r.fail("train", "\"steps\" is set by the stage's tokens, not here");
    if (s.train_overrides.contains("threads"))
      r.fail("train", "\"threads\" is the experiment's (every stage runs on the same threads): set it in the "
                      "top-level train section, or give --threads");
  }
  s.data = r.get_string("data", "");
  if (r.has("growth")) {
    if (first) r.fail("growth", "the first stage is trained from scratch; growth options belong to later stages");
    s.growth = parse_growth_options(r.get_object("growth"));
  }
  r.finish();
  return s;
}

// The model overrides of a stage with every size key: its own, else (later stages) the
// previous stage's, n_heads and ffn_hidden scaled when d_model widens; the recipe's
// "model" keys under them.
nlohmann::json stage_size(const nlohmann::json& own, const nlohmann::json& recipe_model, const ModelConfig* previous) {
  nlohmann::json size = recipe_model;
  if (previous) {
    const nlohmann::json before = previous->to_json();
    const int64_t k = own.contains("d_model") ? own["d_model"].get<int64_t>() / previous->d_model : 1;
    for (const StageSizeKey& key : kStageSizeKeys) size[key.name] = before.at(key.name);
    if (k > 1) {
      size["n_heads"] = previous->n_heads * k;
      size["ffn_hidden"] = previous->ffn_hidden * k;
    }
  }
  for (auto it = own.begin(); it != own.end(); ++it) size[it.key()] = it.value();
  return size;
}

// The size keys of a resolved model: what a stage's model overrides hold after loading.
nlohmann::json size_keys(const ModelConfig& m) {
  const nlohmann::json all = m.to_json();
  nlohmann::json size = nlohmann::json::object();
  for (const StageSizeKey& key : kStageSizeKeys) size[key.name] = all.at(key.name);
  return size;
}
}  // namespace

nlohmann::json ExperimentConfig::run_json(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                                          const std::string& data) const {
  nlohmann::json m = model, t = train;
  for (auto it = model_overrides.begin(); it != model_overrides.end(); ++it) m[it.key()] = it.value();
  for (auto it = train_overrides.begin(); it != train_overrides.end(); ++it) t[it.key()] = it.value();
  return {{"data", data.empty() ? data_path : data}, {"model", m}, {"train", t}};
}

RunConfig ExperimentConfig::run_config(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                                       int64_t steps, uint64_t seed, const std::string& where,
                                       const std::string& data) const {
  nlohmann::json run = run_json(model_overrides, train_overrides, data);
  run["train"]["steps"] = steps;
  run["train"]["seed"] = seed;
  return parse_run_config(run, file + " (" + where + ")");
}

RunShape ExperimentConfig::run_shape(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                                     const std::string& where, const std::string& data) const {
  return parse_run_shape(run_json(model_overrides, train_overrides, data), file + " (" + where + ")");
}

namespace {
std::string fmt_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

std::string flops_name(double flops) {
  // 3.16e+13 -> 3.16e13
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", flops);
  std::string s = buf;
  const size_t e = s.find("e+");
  if (e != std::string::npos) s.erase(e + 1, 1);
  while (s.find("e0") != std::string::npos) s.erase(s.find("e0") + 1, 1);
  return s;
}

std::string frontier_budget_name(double budget) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", budget);
  return buf;
}

namespace {
std::vector<uint64_t> parse_seeds(ConfigReader& r, const std::string& key) {
  const auto& seeds = r.raw(key);
  if (!seeds.is_array() || seeds.empty()) r.fail(key, "expected a non-empty list of integers");
  std::vector<uint64_t> out;
  std::set<uint64_t> seen;
  for (const auto& s : seeds) {
    if (!s.is_number_integer() || s.get<int64_t>() < 0) r.fail(key, "expected non-negative integers, got " + s.dump());
    if (!seen.insert(s.get<uint64_t>()).second)
      r.fail(key, s.dump() + " is listed twice; a repeated seed trains identical runs and fakes a spread of 0 "
                  "(list each seed once)");
    out.push_back(s.get<uint64_t>());
  }
  return out;
}

// A list of distinct positive numbers (distinct as `run_name` prints them: they name runs).
std::vector<double> parse_distinct_numbers(ConfigReader& r, const std::string& key, double max,
                                           const std::function<std::string(double)>& run_name, bool allow_empty = false) {
  const auto& list = r.raw(key);
  if (!list.is_array() || (list.empty() && !allow_empty)) r.fail(key, "expected a non-empty list of numbers in (0, " + fmt_number(max) + "]");
  std::vector<double> out;
  std::set<std::string> seen;
  for (const auto& x : list) {
    if (!x.is_number() || !(x.get<double>() > 0) || !(x.get<double>() <= max))
      r.fail(key, "expected numbers in (0, " + fmt_number(max) + "], got " + x.dump());
    if (!seen.insert(run_name(x.get<double>())).second)
      r.fail(key, x.dump() + " is listed twice (run " + run_name(x.get<double>()) + "); a repeated value trains "
                  "identical runs and fakes a spread of 0 (list each value once)");
    out.push_back(x.get<double>());
  }
  return out;
}

std::string timing_name(double f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", f);
  return buf;
}

// One entry of "recipes": one recipe, or one per grow_at value.
std::vector<RecipeSpec> parse_recipe(const ExperimentConfig& c, const nlohmann::json& j, const std::string& where) {
  ConfigReader rr(j, c.file, where);
  RecipeSpec recipe;
  recipe.name = rr.get_string("name", std::nullopt);
  if (recipe.name.empty() || recipe.name.find_first_of("/ \\") != std::string::npos)
    rr.fail("name", "expected a non-empty name without spaces or slashes");
  recipe.family = recipe.name;
  const std::vector<double> grow_at =
      rr.has("grow_at") ? parse_distinct_numbers(rr, "grow_at", 0.95, [&](double f) { return recipe.name + "-at" + timing_name(f); }) : std::vector<double>{};
  const auto& stages = rr.raw("stages");
  if (!stages.is_array() || stages.empty()) rr.fail("stages", "expected a non-empty list of stages");
  if (!grow_at.empty() && stages.size() < 2) rr.fail("grow_at", "a timing sweep needs a recipe of at least two stages");
  nlohmann::json recipe_model = nlohmann::json::object();
  if (rr.has("model")) {
    (void)rr.get_object("model");
    recipe_model = rr.raw("model");
    for (const char* key : {"qkv_tokens", "proj_tokens", "ffn_tokens"})
      if (recipe_model.contains(key)) rr.fail(std::string("model.") + key, "token counts are set per stage (stages[])");
  }
  std::optional<ModelConfig> previous;
  for (size_t k = 0; k < stages.size(); ++k) {
    const std::string at = where + ".stages[" + std::to_string(k) + "]";
    recipe.stages.push_back(parse_stage(ConfigReader(stages[k], c.file, at), k == 0, k == 0 && !grow_at.empty()));
    StageSpec& s = recipe.stages.back();
    if (k == 0 && s.match_scratch_tokens > 0) rr.fail("stages[0].match_scratch_tokens", "the first stage needs \"tokens\"");
    // Validate the stage's model and train settings now, not hours into the run.
    const nlohmann::json size = stage_size(s.model, recipe_model, previous ? &*previous : nullptr);
    const ModelConfig model = c.run_config(size, s.train_overrides, int64_t{1} << 30, 0, at, s.data).model;
    if (previous) {
      const std::string growth_at = c.file + " (" + at + ")";
      const GrowthTarget target = growth_target_to(*previous, model, growth_at);
      if (target.d_model != 0 && (!s.growth.train_old || s.growth.freeze_steps > 0))
        rr.fail("stages[" + std::to_string(k) + "].growth", "freezing (train_old false, freeze_steps) holds old rows and "
                "blocks; this stage widens d_model, which tiles every parameter: nothing in it is old");
      try {
        check_growth_target(*previous, target);
      } catch (const UserError& e) {
        throw UserError(growth_at + ": " + e.what());
      }
    }
    s.model = recipe_model;
    const nlohmann::json resolved = size_keys(model);
    for (auto it = resolved.begin(); it != resolved.end(); ++it) s.model[it.key()] = it.value();
    previous = model;
  }
  if (!grow_at.empty() && recipe.stages.back().match_scratch_tokens == 0)
    rr.fail("grow_at", "the last stage must give \"match_scratch_tokens\": it fixes the total the first stage takes a fraction of");
  rr.finish();
  if (grow_at.empty()) return {recipe};
  std::vector<RecipeSpec> timed;
  for (double f : grow_at) {
    RecipeSpec r = recipe;
    r.name = recipe.name + "-at" + timing_name(f);
    r.grow_at = f;
    timed.push_back(std::move(r));
  }
  return timed;
}

void parse_baselines(ConfigReader b, BaselineSpec& out) {
  if (b.has("frontier_budgets")) out.frontier_budgets = parse_distinct_numbers(b, "frontier_budgets", 1e6, [](double x) { return "frontier-" + frontier_budget_name(x) + "x"; }, true);
  out.stage_sizes = b.get_bool("stage_sizes", true);
  out.transformer = b.get_bool("transformer", true);
  b.finish();
}

// "2x" (a multiple of the first recipe's FLOPs) or a number of FLOPs.
ScalingBudget parse_budget(const ConfigReader& r, const nlohmann::json& x) {
  ScalingBudget b;
  if (x.is_string()) {
    const std::string text = x.get<std::string>();
    char* end = nullptr;
    const double m = std::strtod(text.c_str(), &end);
    if (text.empty() || text.back() != 'x' || end != text.c_str() + text.size() - 1 || !(m > 0) || !(m <= 1e6))
      r.fail("budgets", "expected FLOPs (e.g. 1e13) or a multiple of the first recipe's FLOPs (e.g. \"2x\"), got " + x.dump());
    b.times_reference = m;
    b.name = frontier_budget_name(m) + "x";
  } else {
    if (!x.is_number() || !(x.get<double>() >= 1e6) || !(x.get<double>() <= 1e24))
      r.fail("budgets", "expected FLOPs in [1e6, 1e24] or a multiple such as \"2x\", got " + x.dump());
    b.flops = x.get<double>();
    b.name = flops_name(b.flops);
  }
  return b;
}

// `resolved_model`: the size's model config with every default filled in (the
// experiment's model section merged), which tells two sizes apart.
ScalingSize parse_size(const ExperimentConfig& c, ConfigReader s, const std::string& where,
                       nlohmann::json* resolved_model) {
  ScalingSize size;
  size.name = s.get_string("name", std::nullopt);
  const bool plain = !size.name.empty() && size.name.size() <= 64 &&
                     size.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") ==
                         std::string::npos;
  if (!plain) s.fail("name", "expected 1-64 letters, digits, '_' or '.' (it is part of run names), got \"" + size.name + "\"");
  { ConfigReader m = s.get_object("model"); (void)m; }
  size.model = s.raw("model");
  if (s.has("lrs")) size.lrs = parse_distinct_numbers(s, "lrs", 1.0, [&](double lr) { return "scaling-" + size.name + "-...-lr" + frontier_budget_name(lr); });
  s.finish();
  *resolved_model = c.run_config(size.model, nlohmann::json::object(), int64_t{1} << 30, 0, where).model.to_json();
  return size;
}

void parse_scaling(const ExperimentConfig& c, ConfigReader r, ScalingSpec& out) {
  const auto& sizes = r.raw("sizes");
  if (!sizes.is_array() || sizes.empty()) r.fail("sizes", "expected a non-empty list of {\"name\", \"model\"} sizes");
  std::set<std::string> names;
  std::map<std::string, std::string> size_of_model;  // resolved model JSON -> the size that has it
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string where = r.key_path("sizes[" + std::to_string(i) + "]");
    nlohmann::json model;
    const ScalingSize& size = out.sizes.emplace_back(parse_size(c, ConfigReader(sizes[i], c.file, where), where, &model));
    if (!names.insert(size.name).second) r.fail("sizes", "size name \"" + size.name + "\" is used twice");
    const auto [first, fresh] = size_of_model.emplace(model.dump(), size.name);
    if (!fresh)
      r.fail("sizes", "sizes \"" + first->second + "\" and \"" + size.name + "\" are the same model; it would be " +
                          "trained twice and fake a point of the sweep: list it once (several LRs go in one size's lrs)");
  }
  const auto& budgets = r.raw("budgets");
  if (!budgets.is_array() || budgets.empty()) r.fail("budgets", "expected a non-empty list of FLOPs or multiples (\"2x\")");
  std::set<std::string> seen;
  for (const auto& x : budgets) {
    out.budgets.push_back(parse_budget(r, x));
    if (!seen.insert(out.budgets.back().name).second)
      r.fail("budgets", x.dump() + " is listed twice (runs named " + out.budgets.back().name + "); list each budget once");
  }
  out.seeds = r.has("seeds") ? parse_seeds(r, "seeds") : std::vector<uint64_t>{c.seeds.front()};
  out.warmup_fraction = r.get_double("warmup_fraction", 0.0, 0.0, 0.5);
  r.finish();
}
}  // namespace

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
  c.seeds = parse_seeds(r, "seeds");

  const auto& recipes = r.raw("recipes");
  if (!recipes.is_array() || recipes.empty()) r.fail("recipes", "expected a non-empty list of recipes");
  std::set<std::string> names;
  for (size_t i = 0; i < recipes.size(); ++i)
    for (RecipeSpec& recipe : parse_recipe(c, recipes[i], "recipes[" + std::to_string(i) + "]")) {
      if (!names.insert(recipe.name).second)
        r.fail("recipes[" + std::to_string(i) + "].name", "duplicate recipe name \"" + recipe.name + "\"");
      c.recipes.push_back(std::move(recipe));
    }
  parse_baselines(r.get_object("baselines"), c.baselines);
  if (r.has("scaling")) parse_scaling(c, r.get_object("scaling"), c.scaling);
  r.finish();
  return c;
}

}  // namespace tg
