#pragma once
// Runs an experiment: every recipe (stages trained, grown, trained again) and
// every baseline, for every seed, in order; then writes experiment.h5 and the
// summary. Each run lives in out_dir/<run name>/ and is marked done by done.json
// (written atomically), so the runner can be killed at any moment and re-run: done
// runs are skipped, an unfinished stage resumes from its latest checkpoint. Every
// stage's checkpoint, growth record and metrics are checked against the run's plan
// before use (planned_run.h); the out directory is locked and marked as an
// experiment's, which `tokengrow train` refuses (experiment_dir.h).
//
// Run names: <recipe>-seed<s> (stage<k>/ sub-runs, grown_<k>.h5, growth_<k>.json),
// frontier-<budget>x-seed<s>, scratch-stage<k>-seed<s>, transformer-seed<s>,
// scaling-<size>-<budget>[-lr<lr>]-seed<s> (the scaling sweep: experiment_config.h).
#include <functional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/engine.h"
#include "experiment/experiment_config.h"
#include "experiment/planned_run.h"

namespace tg {

class ExperimentRunner {
 public:
  // Progress and warnings go to `log` (core/log.h); once run() holds the directory's
  // lock, also to out_dir/experiment.log for as long as `log` lives, and each stage's
  // lines to its own train.log as well.
  ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine, spdlog::logger& log);
  // Rank 0 of an experiment under mpirun: every stage trains data-parallel on all ranks
  // (the others follow, experiment_worker.h), and the plan counts every rank's batch.
  ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine, spdlog::logger& log,
                   Communicator& comm);
  ExperimentRunner(const ExperimentRunner&) = delete;  // comm_ may refer to this object's own solo_
  ExperimentRunner& operator=(const ExperimentRunner&) = delete;

  const std::vector<PlannedRun>& plan() const { return plan_; }
  // FLOPs of the first recipe's grown run: the frontier budgets' 1x.
  double reference_flops() const { return reference_flops_; }

  // Which runs of the plan are finished (done.json), in plan order.
  std::vector<bool> done_runs() const;

  // Runs what is not done yet; returns false if stopped by the step budget.
  bool run();
  // Stop (as a kill would) after this many training steps in this invocation; for tests.
  void set_step_budget(int64_t steps) { step_budget_ = steps; }

  // Reads the finished runs and writes experiment.h5, summary.md and summary.csv (and
  // scaling.csv), with this many bootstrap resamples for the scaling fits' intervals.
  void write_report(int64_t bootstrap_samples);

 private:
  void make_plan();
  double recipe_total_flops(const RecipeSpec& recipe) const;
  void plan_scaling_runs();
  nlohmann::json lr_overrides(double lr) const;
  bool execute(const PlannedRun& run);
  void record_corpus_losses(const PlannedRun& run, size_t k);
  // Refuses to continue or skip a run whose directory was started with another plan
  // (the config changed between runs of the command); execute() records the plan.
  void check_plan(const PlannedRun& run) const;
  // Trains (or resumes) stage k of `run`, after checking its latest checkpoint is on the plan.
  bool train_stage(const PlannedRun& run, size_t k, const std::string& start_checkpoint);
  std::string run_dir(const PlannedRun& run) const;

  ExperimentConfig config_;
  std::string out_dir_;
  Engine& engine_;
  spdlog::logger& log_;
  std::vector<PlannedRun> plan_;
  double reference_flops_ = 0;
  int64_t step_budget_ = -1;
  SoloCommunicator solo_;
  Communicator& comm_;
};

}  // namespace tg
