#pragma once
// An experiment: growth recipes against from-scratch baselines, from one file.
// docs/experiments.md describes every key; configs/quickstart.json is an example.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "growth/growth_options.h"
#include "train/run_config.h"

namespace tg {

struct StageSpec {
  // The stage's size as model overrides, every key resolved on loading: qkv_tokens,
  // proj_tokens, ffn_tokens (token growth), n_layers (depth), d_model with n_heads and
  // ffn_hidden (width), with the recipe's own "model" keys (say "architecture").
  nlohmann::json model = nlohmann::json::object();
  // Exactly one of: tokens to train in this stage, or train until the run's total
  // FLOPs equal those of a from-scratch run of match_scratch_tokens at this size.
  int64_t tokens = 0;
  int64_t match_scratch_tokens = 0;
  nlohmann::json train_overrides = nlohmann::json::object();  // merged into "train"
  std::string data;  // the stage's corpus (continual learning); empty: the experiment's
  GrowthOptions growth;                                       // how this stage is grown into (k > 0)
};

struct RecipeSpec {
  std::string name;
  std::vector<StageSpec> stages;
  // Timing sweep: a recipe listing "grow_at": [f1, f2, ...] is expanded on loading into
  // one recipe per value, <family>-at<f>, whose first stage trains the fraction f of the
  // recipe's total FLOPs (fixed by the last stage's match_scratch_tokens). 0: the
  // stages' own budgets (family = name).
  std::string family;
  double grow_at = 0;
};

// A from-scratch scaling sweep: every size at every budget (and each of its LRs).
struct ScalingSize {
  std::string name;
  nlohmann::json model;            // model overrides: token counts, and any other model key
  std::vector<double> lrs;         // peak LRs to try (best kept); empty: the train section's lr
};
struct ScalingBudget {
  double flops = 0;                // absolute training FLOPs, or
  double times_reference = 0;      // a multiple of the first recipe's FLOPs ("2x")
  std::string name;                // as in run names: 1e13, 3.2e13, 2x
};
struct ScalingSpec {
  std::vector<ScalingSize> sizes;
  std::vector<ScalingBudget> budgets;
  std::vector<uint64_t> seeds;     // default: the experiment's first seed
  double warmup_fraction = 0;      // > 0: warmup_steps = this fraction of each run's steps
  bool enabled() const { return !sizes.empty(); }
};

struct BaselineSpec {
  std::vector<double> frontier_budgets = {0.5, 0.75, 1.0, 1.5};  // x the first recipe's FLOPs
  bool stage_sizes = true;   // from scratch at each earlier stage's size, 1x budget
  bool transformer = true;   // a Transformer of matched parameter count, 1x budget
};

struct ExperimentConfig {
  std::string file;
  std::string description;
  std::string data_path;
  nlohmann::json model;  // the model family: everything but token counts
  nlohmann::json train;  // shared train settings: everything but steps
  std::vector<uint64_t> seeds = {0};
  std::vector<RecipeSpec> recipes;
  BaselineSpec baselines;
  ScalingSpec scaling;

  // The run config of a model size trained for `steps` with `seed`, the train
  // section merged with `overrides`. Errors name the file and `where`.
  // `data`: a stage's own corpus (empty: the experiment's).
  RunConfig run_config(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides, int64_t steps,
                       uint64_t seed, const std::string& where, const std::string& data = "") const;
  // The same size's model and batch shape, before its steps are known (train/run_config.h).
  RunShape run_shape(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                     const std::string& where, const std::string& data = "") const;
  // train.threads of the train section (0: the OpenMP default): every stage of an
  // experiment runs on one engine, so a stage may not set its own.
  int64_t threads() const { return train.value("threads", int64_t{0}); }

 private:
  // {"data", "model", "train"} of a run: the experiment's sections with the overrides merged in.
  nlohmann::json run_json(const nlohmann::json& model_overrides, const nlohmann::json& train_overrides,
                          const std::string& data) const;
};

// Throws UserError naming the file and key (e.g. a seed or frontier budget listed twice).
ExperimentConfig load_experiment_config(const std::string& path);

// The budget as it appears in a frontier run's name, frontier-<name>x (printf %g).
std::string frontier_budget_name(double budget);

// FLOPs as they appear in a scaling run's name: 1e13, 3.2e13 (3 significant digits).
std::string flops_name(double flops);

}  // namespace tg
