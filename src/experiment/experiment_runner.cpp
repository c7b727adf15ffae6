#include "experiment/experiment_runner.h"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/config_reader.h"
#include "core/durable_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/run_lock.h"
#include "experiment/corpus_losses.h"
#include "experiment/experiment_dir.h"
#include "experiment/experiment_report.h"
#include "experiment/experiment_worker.h"
#include "experiment/scaling_report.h"
#include "growth/grow_checkpoint.h"
#include "model/model_cost.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/run_directory.h"
#include "train/trainer.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
// Training FLOPs of one global step (3 x forward) for a run config: grad_accum
// micro-batches on each of `ranks` ranks.
double step_flops(const RunConfig& rc, int ranks) {
  return 3.0 * forward_model_flops(rc.model, rc.train.batch_size, rc.model.seq_len) *
         static_cast<double>(rc.train.grad_accum * ranks);
}

int64_t steps_for_flops(double flops, double per_step) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(flops / per_step)));
}

void write_json_atomically(const fs::path& path, const nlohmann::json& j) {
  write_file_durably(path.string(), j.dump(2) + "\n");
}

// What a run trains: every stage's run config and growth options. Threads and recompute
// are left out: they change the speed and memory (threads and recompute attention the last
// bits of the gradients), not the experiment.
nlohmann::json plan_of(const PlannedRun& run) {
  nlohmann::json stages = nlohmann::json::array();
  for (size_t k = 0; k < run.stages.size(); ++k) {
    nlohmann::json stage = run.stages[k].to_json();
    stage["train"].erase("threads");
    stage["train"].erase("recompute");
    if (k > 0) stage["growth"] = run.growth[k].to_json();
    stages.push_back(std::move(stage));
  }
  return stages;
}

// JSON pointer "/1/train/lr" -> "stages[1].train.lr".
std::string plan_key(const std::string& pointer) {
  std::string key = "stages";
  std::stringstream parts(pointer.substr(1));
  for (std::string part; std::getline(parts, part, '/');)
    key += std::isdigit(static_cast<unsigned char>(part[0])) ? "[" + part + "]" : "." + part;
  return key;
}

// A key that a newer binary adds to a run config (say train.max_rollbacks) is absent
// from plans written before it. Such an addition to a stage is no difference when it
// holds the key's default (what the old binary trained with); with another value, or
// anything else changed, it is.
bool new_key_at_default(const nlohmann::json& before, const nlohmann::json& op) {
  if (op["op"] != "add") return false;
  const std::string path = op["path"].get<std::string>();
  const nlohmann::json::json_pointer pointer(path);
  if (!before.contains(pointer.parent_pointer()) || !before.at(pointer.parent_pointer()).is_object()) return false;
  // "/<stage>/train/max_rollbacks" -> "/train/max_rollbacks" in a default stage's plan.
  const size_t after_stage = path.find('/', 1);
  if (after_stage == std::string::npos) return false;
  nlohmann::json defaults = RunConfig{}.to_json();
  defaults["growth"] = GrowthOptions{}.to_json();
  const nlohmann::json::json_pointer in_stage(path.substr(after_stage));
  return defaults.contains(in_stage) && defaults.at(in_stage) == op["value"];
}

// "stages[1].train.lr: 0.002 before, 0.001 now" for the first difference of two plans.
std::string first_difference(const nlohmann::json& before, const nlohmann::json& now) {
  std::string path;
  bool differs = false;
  for (const nlohmann::json& op : nlohmann::json::diff(before, now))
    if (!new_key_at_default(before, op)) {
      path = op["path"].get<std::string>();
      differs = true;
      break;
    }
  if (!differs) return "";
  if (path.empty()) return "the plan: " + before.dump().substr(0, 80) + " before, a list of stages now";
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/-") == 0) {  // appended to an array: name its index
    const nlohmann::json::json_pointer parent(path.substr(0, path.size() - 2));
    path = path.substr(0, path.size() - 1) + std::to_string(before.at(parent).size());
  }
  const nlohmann::json::json_pointer pointer(path);
  auto at = [&](const nlohmann::json& j) { return j.contains(pointer) ? j.at(pointer).dump() : std::string("absent"); };
  return plan_key(path) + ": " + at(before) + " before, " + at(now) + " now";
}

StageProgress checkpoint_progress(const std::string& path) {
  TrainState state;
  load_model(path, &state);
  return {state.step, state.flops, path};
}
}  // namespace

ExperimentRunner::ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine,
                                   spdlog::logger& log)
    : ExperimentRunner(config, std::move(out_dir), engine, log, solo_) {}

ExperimentRunner::ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine,
                                   spdlog::logger& log, Communicator& comm)
    : config_(config), out_dir_(std::move(out_dir)), engine_(engine), log_(log), comm_(comm) {
  make_plan();
}

// The FLOPs a recipe with a timing sweep spends in all: those of a from-scratch run of
// the last stage's match_scratch_tokens at the last stage's size.
double ExperimentRunner::recipe_total_flops(const RecipeSpec& recipe) const {
  const StageSpec& last = recipe.stages.back();
  const RunConfig probe = config_.run_config(last.model, last.train_overrides, int64_t{1} << 30, 0, recipe.name);
  return static_cast<double>(last.match_scratch_tokens) * step_flops(probe, 1) /
         static_cast<double>(probe.train.sequences_per_step() * probe.model.seq_len);
}

void ExperimentRunner::make_plan() {
  // Stage configs and FLOPs of every recipe (independent of the seed).
  struct RecipePlan {
    std::vector<RunConfig> stages;
    std::vector<double> step_flops;
    double total_flops = 0;
  };
  std::vector<RecipePlan> recipes;
  for (const RecipeSpec& recipe : config_.recipes) {
    RecipePlan rp;
    double cumulative = 0;
    for (size_t k = 0; k < recipe.stages.size(); ++k) {
      const StageSpec& s = recipe.stages[k];
      const std::string where = "recipe " + recipe.name + " stage " + std::to_string(k);
      RunConfig probe = config_.run_config(s.model, s.train_overrides, int64_t{1} << 30, 0, where, s.data);
      const double per_step = step_flops(probe, comm_.size());
      const int64_t tokens_per_step = probe.train.sequences_per_step() * probe.model.seq_len * comm_.size();
      int64_t steps = 0;
      if (k == 0 && recipe.grow_at > 0) {
        steps = steps_for_flops(recipe.grow_at * recipe_total_flops(recipe), per_step);
      } else if (s.tokens > 0) {
        steps = std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(s.tokens) / tokens_per_step)));
      } else {
        const double target = static_cast<double>(s.match_scratch_tokens) * per_step / static_cast<double>(tokens_per_step);
        if (target <= cumulative + per_step)
          throw UserError(config_.file + ": " + where + ": match_scratch_tokens " + std::to_string(s.match_scratch_tokens) +
                          " is already used up by the earlier stages (" + std::to_string(cumulative) + " FLOPs)");
        steps = steps_for_flops(target - cumulative, per_step);
      }
      cumulative += static_cast<double>(steps) * per_step;
      rp.stages.push_back(config_.run_config(s.model, s.train_overrides, steps, 0, where, s.data));
      rp.step_flops.push_back(per_step);
    }
    rp.total_flops = cumulative;
    recipes.push_back(std::move(rp));
  }
  reference_flops_ = recipes.front().total_flops;
  const StageSpec& final_size = config_.recipes.front().stages.back();

  for (uint64_t seed : config_.seeds) {
    const std::string sfx = "-seed" + std::to_string(seed);
    std::map<std::string, std::string> stage0_dirs;  // identical first stages are trained once
    for (size_t i = 0; i < config_.recipes.size(); ++i) {
      const RecipeSpec& recipe = config_.recipes[i];
      PlannedRun run;
      run.name = recipe.name + sfx;
      run.kind = "recipe";
      run.recipe = recipe.name;
      run.seed = seed;
      run.planned_flops = recipes[i].total_flops;
      for (size_t k = 0; k < recipe.stages.size(); ++k) {
        RunConfig rc = recipes[i].stages[k];
        rc.train.seed = seed;
        // The grown checkpoint records how tau evolves; keep the run config in step.
        if (k > 0) rc.model.tau_mode = recipe.stages[k].growth.tau == TauGrowth::Dynamic ? TauMode::Dynamic : TauMode::Fixed;
        run.stages.push_back(rc);
        run.stage_step_flops.push_back(recipes[i].step_flops[k]);
        run.growth.push_back(recipe.stages[k].growth);
        std::string dir = (fs::path(out_dir_) / run.name / ("stage" + std::to_string(k))).string();
        if (k == 0) {
          const std::string key = rc.to_json().dump();
          auto [it, fresh] = stage0_dirs.emplace(key, dir);
          dir = it->second;
        }
        run.stage_dirs.push_back(dir);
      }
      plan_.push_back(std::move(run));
    }
    // A baseline trains on the corpus of the stage whose size it has (a stage's own "data").
    auto baseline = [&](const std::string& name, const std::string& kind, const nlohmann::json& model, double flops,
                        const std::string& data) {
      PlannedRun run;
      run.name = name + sfx;
      run.kind = kind;
      run.seed = seed;
      RunConfig probe = config_.run_config(model, nlohmann::json::object(), int64_t{1} << 30, seed, name, data);
      const double per_step = step_flops(probe, comm_.size());
      const int64_t steps = steps_for_flops(flops, per_step);
      run.stages.push_back(config_.run_config(model, nlohmann::json::object(), steps, seed, name, data));
      run.stage_step_flops.push_back(per_step);
      run.growth.emplace_back();
      run.stage_dirs.push_back((fs::path(out_dir_) / run.name).string());
      run.planned_flops = static_cast<double>(steps) * per_step;
      return run;
    };
    for (double budget : config_.baselines.frontier_budgets) {
      PlannedRun run = baseline("frontier-" + frontier_budget_name(budget) + "x", "frontier", final_size.model,
                                budget * reference_flops_, final_size.data);
      run.budget = budget;
      plan_.push_back(std::move(run));
    }
    if (config_.baselines.stage_sizes) {
      const auto& stages = config_.recipes.front().stages;
      for (size_t k = 0; k + 1 < stages.size(); ++k)
        plan_.push_back(baseline("scratch-stage" + std::to_string(k), "stage_size", stages[k].model, reference_flops_,
                                 stages[k].data));
    }
    if (config_.baselines.transformer) {
      // Match the final TokenFormer's parameter count with the MLP width:
      //   V d + 2 d + L (4 d^2 + 2 d h) = P  ->  h = (P - V d - 2 d - 4 L d^2) / (2 L d)
      const ModelConfig& m = recipes.front().stages.back().model;
      const double p = static_cast<double>(n_params(m));
      const double d = m.d_model, L = m.n_layers, V = m.vocab_size;
      const int64_t h = std::max<int64_t>(1, std::llround((p - V * d - 2 * d - 4 * L * d * d) / (2 * L * d)));
      nlohmann::json model = final_size.model;
      model["architecture"] = "transformer";
      model["ffn_hidden"] = h;
      plan_.push_back(baseline("transformer", "transformer", model, reference_flops_, final_size.data));
    }
  }
  plan_scaling_runs();
}

// scaling-<size>-<budget>[-lr<lr>]-seed<s>: from scratch, one complete schedule over
// exactly its budget (steps = round(FLOPs / FLOPs per step)).
void ExperimentRunner::plan_scaling_runs() {
  const ScalingSpec& sweep = config_.scaling;
  for (uint64_t seed : sweep.seeds)
    for (const ScalingSize& size : sweep.sizes)
      for (const ScalingBudget& budget : sweep.budgets) {
        const double flops = budget.flops > 0 ? budget.flops : budget.times_reference * reference_flops_;
        const std::vector<double> lrs = size.lrs.empty() ? std::vector<double>{0.0} : size.lrs;
        for (double lr : lrs) {
          PlannedRun run;
          run.name = "scaling-" + size.name + "-" + budget.name + (lr > 0 ? "-lr" + frontier_budget_name(lr) : "") +
                     "-seed" + std::to_string(seed);
          run.kind = "scaling";
          run.seed = seed;
          run.size = size.name;
          run.budget_name = budget.name;
          nlohmann::json train = nlohmann::json::object();
          if (lr > 0) train = lr_overrides(lr);
          const RunConfig probe = config_.run_config(size.model, train, int64_t{1} << 30, seed, run.name);
          const double per_step = step_flops(probe, comm_.size());
          const int64_t steps = steps_for_flops(flops, per_step);
          if (sweep.warmup_fraction > 0)
            train["warmup_steps"] = std::max<int64_t>(1, std::llround(sweep.warmup_fraction * static_cast<double>(steps)));
          else if (config_.train.contains("warmup_steps") && probe.train.warmup_steps >= steps)
            throw UserError(config_.file + ": " + run.name + ": " + std::to_string(steps) + " steps at this budget, but " +
                            std::to_string(probe.train.warmup_steps) + " warmup steps (train.warmup_steps); raise the " +
                            "budget or set scaling.warmup_fraction");
          RunConfig rc = config_.run_config(size.model, train, steps, seed, run.name);
          run.lr = rc.train.lr;
          run.stages.push_back(std::move(rc));
          run.stage_step_flops.push_back(per_step);
          run.growth.emplace_back();
          run.stage_dirs.push_back((fs::path(out_dir_) / run.name).string());
          run.planned_flops = static_cast<double>(steps) * per_step;
          plan_.push_back(std::move(run));
        }
      }
}

// Train overrides for a swept peak LR: the floor keeps the train section's min_lr / lr
// ratio (absent min_lr: the run config's default, lr / 10).
nlohmann::json ExperimentRunner::lr_overrides(double lr) const {
  nlohmann::json t = {{"lr", lr}};
  if (config_.train.contains("min_lr")) {
    const double base_lr = config_.train.value("lr", TrainConfig{}.lr);
    t["min_lr"] = lr * config_.train["min_lr"].get<double>() / base_lr;
  }
  return t;
}

bool ExperimentRunner::train_stage(const PlannedRun& run, size_t k, const std::string& start_checkpoint) {
  const std::string& dir = run.stage_dirs[k];
  std::string start = resume_point(dir);  // latest.h5, or without it the newest sound ckpt_<step>.h5
  if (!start.empty()) {
    check_stage_progress(run, run_dir(run), k, checkpoint_progress(start), false);
  } else {
    start = start_checkpoint;
    // Stopped before its first checkpoint: only a partial log exists, which the
    // restarted (deterministic) run writes again.
    MetricsLog((fs::path(dir) / "metrics.h5").string()).remove();
  }
  spdlog::logger stage_log = child_logger(log_, run.name);  // its train.log closes with the stage
  if (comm_.size() > 1) {  // the other ranks train this stage with rank 0 (experiment_worker.h)
    if (step_budget_ >= 0) throw std::logic_error("ExperimentRunner: a step budget under MPI");
    std::string job = stage_job(run.stages[k], dir, start);
    comm_.broadcast(job);
  }
  Trainer trainer(run.stages[k], engine_, stage_log, comm_);
  if (step_budget_ >= 0) trainer.set_stop_hook([this] { return --step_budget_ <= 0; });
  const TrainResult r = trainer.run(dir, start);
  return !r.interrupted;
}

// A run that trains on more than one corpus records, at the end of each stage, its loss on
// every corpus seen so far (corpus_losses.h). Deterministic, so recomputed if lost.
void ExperimentRunner::record_corpus_losses(const PlannedRun& run, size_t k) {
  if (corpora_seen(run, run.stages.size() - 1).size() < 2) return;
  const fs::path file = fs::path(run_dir(run)) / ("corpus_losses_" + std::to_string(k) + ".json");
  if (fs::exists(file)) return;
  const std::string checkpoint = (fs::path(run.stage_dirs[k]) / "latest.h5").string();
  const std::map<std::string, double> losses =
      losses_on_corpora(engine_, checkpoint, corpora_seen(run, k), run.stages[k].train);
  std::string shown_losses;
  for (const auto& [corpus, loss] : losses) shown_losses += " " + corpus + " " + std::to_string(loss);
  log_.info(line(run.name, ": after stage ", k, ", val loss on", shown_losses));
  write_json_atomically(file, {{"stage", k}, {"step", run.end_step(static_cast<int64_t>(k))}, {"losses", losses}});
}

void ExperimentRunner::check_plan(const PlannedRun& run) const {
  const fs::path dir = run_dir(run), file = dir / "plan.json";
  if (!fs::exists(file)) return;  // not started (or finished before plans were recorded)
  const std::string difference = first_difference(read_json_file(file.string()), plan_of(run));
  if (!difference.empty())
    throw UserError(dir.string() + ": this run was started with another plan than " + config_.file + " gives now (" +
                    difference + "); restore the config, or write the experiment to another --out");
}

std::vector<bool> ExperimentRunner::done_runs() const {
  std::vector<bool> done;
  for (const PlannedRun& run : plan_) done.push_back(read_done_marker(run, run_dir(run)));
  return done;
}

std::string ExperimentRunner::run_dir(const PlannedRun& run) const { return (fs::path(out_dir_) / run.name).string(); }

bool ExperimentRunner::execute(const PlannedRun& run) {
  const fs::path dir = run_dir(run);
  fs::create_directories(dir);
  if (!fs::exists(dir / "plan.json")) write_json_atomically(dir / "plan.json", plan_of(run));
  for (size_t k = 0; k < run.stages.size(); ++k) {
    std::string start;
    if (k > 0) {
      const fs::path grown = dir / ("grown_" + std::to_string(k) + ".h5");
      const fs::path event = dir / ("growth_" + std::to_string(k) + ".json");
      if (!fs::exists(event)) {
        log_.info(line(run.name, ": growing stage ", k - 1, " -> ", k));
        const std::string from = (fs::path(run.stage_dirs[k - 1]) / "latest.h5").string();
        check_stage_progress(run, dir.string(), k - 1, checkpoint_progress(from), true);
        if (fs::exists(grown)) fs::remove(grown);  // grown but not recorded: grow again (deterministic)
        const GrowReport g = grow_checkpoint(engine_, from, grown.string(),
                                             growth_target_to(run.stages[k - 1].model, run.stages[k].model, run.name),
                                             run.growth[k], run.stages[k].train, run.stages[k].data_path);
        for (const auto& w : g.warnings) log_.warn(w);
        log_.info(line(run.name, ": val loss before growth ", g.val_loss_before, ", after ", g.val_loss_after));
        write_json_atomically(event, {{"stage", k},
                                      {"step", g.step},
                                      {"tokens", g.tokens},
                                      {"flops", g.flops},
                                      {"loss_before", g.val_loss_before},
                                      {"loss_after", g.val_loss_after},
                                      {"growth", run.growth[k].to_json()}});
      }
      check_stage_progress(run, dir.string(), k - 1, growth_event_progress(event.string()), true);
      start = grown.string();
    }
    log_.info(line(run.name, ": stage ", k, " (", run.stages[k].train.steps, " steps)"));
    if (!train_stage(run, k, start)) return false;
    record_corpus_losses(run, k);
  }
  write_done_marker(run, dir.string());
  return true;
}

bool ExperimentRunner::run() {
  const RunLock lock(out_dir_);
  mark_experiment_dir(out_dir_, config_.file);
  attach_log_file(log_, (fs::path(out_dir_) / "experiment.log").string(), LogFileRole::Experiment);
  log_.info(line("experiment ", config_.file, ": ", plan_.size(), " runs into ", out_dir_, "; reference (1x) FLOPs ",
                 reference_flops_));
  std::vector<bool> done;
  for (const PlannedRun& run : plan_) {  // before anything trains
    check_plan(run);
    done.push_back(read_done_marker(run, run_dir(run)));
  }
  for (size_t i = 0; i < plan_.size(); ++i) {
    const PlannedRun& run = plan_[i];
    if (done[i]) {
      log_.info(line("[", i + 1, "/", plan_.size(), "] ", run.name, ": done, skipped"));
      continue;
    }
    log_.info(line("[", i + 1, "/", plan_.size(), "] ", run.name, " (", run.kind, ", ", run.planned_flops / 1e12,
                   " TFLOP)"));
    if (!execute(run)) {
      log_.info("stopped; re-run the same command to continue");
      return false;
    }
    write_report(0);  // between runs: without the bootstrap intervals
  }
  write_report(kBootstrapSamples);
  return true;
}

void ExperimentRunner::write_report(int64_t bootstrap_samples) {
  write_experiment_report(config_, out_dir_, plan_, bootstrap_samples);
}

}  // namespace tg
