#pragma once
// Runs an experiment's plan (plan.h): every recipe (stages trained, grown, trained
// again) and every baseline, for every seed, in order; then writes experiment.h5 and the
// summary. Each run lives in out_dir/<run name>/ and is marked done by done.json
// (written atomically), so the runner can be killed at any moment and re-run: done
// runs are skipped, an unfinished stage resumes from its latest checkpoint. Every
// stage's checkpoint, growth record and metrics are checked against the run's plan
// before use (planned_run.h, plan_identity.h); the out directory is locked and marked as an
// experiment's, which `tokengrow train` refuses (experiment_dir.h).
//
// Run names: <recipe>-seed<s> (stage<k>/ sub-runs, grown_<k>.h5, growth_<k>.json),
// frontier-<budget>x-seed<s>, scratch-stage<k>-seed<s>, transformer-seed<s>,
// scaling-<size>-<budget>[-lr<lr>]-seed<s> (the scaling sweep: scaling_plan.h).
#include <string>

#include <spdlog/logger.h>

#include "core/communicator.h"
#include "core/engine.h"
#include "experiment/experiment_config.h"
#include "experiment/plan.h"
#include "experiment/scaling_report.h"

namespace tg {

class ExperimentRunner {
 public:
  // Progress and warnings go to `log` (core/log.h); once run() holds the directory's
  // lock, also to out_dir/experiment.log for as long as `log` lives, and each stage's
  // lines to its own train.log as well. `plan`: make_plan(config, out_dir, ranks).
  ExperimentRunner(const ExperimentConfig& config, Plan plan, std::string out_dir, Engine& engine,
                   spdlog::logger& log, Communicator& comm);
  // Plans the experiment for one process.
  ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine, spdlog::logger& log);
  // Rank 0 of an experiment under mpirun: every stage trains data-parallel on all ranks
  // (the others follow, experiment_worker.h), and the plan counts every rank's batch.
  ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine, spdlog::logger& log,
                   Communicator& comm);
  ExperimentRunner(const ExperimentRunner&) = delete;  // comm_ may refer to this object's own solo_
  ExperimentRunner& operator=(const ExperimentRunner&) = delete;

  const Plan& plan() const { return plan_; }

  // Runs what is not done yet; returns false if stopped by the step budget.
  bool run();
  // Stop (as a kill would) after this many training steps in this invocation; for tests.
  void set_step_budget(int64_t steps) { step_budget_ = steps; }
  // Bootstrap resamples behind the final report's intervals (kBootstrapSamples unless set);
  // tests under the sanitizers, where each refit is slow, take fewer.
  void set_bootstrap_samples(int64_t samples) { bootstrap_samples_ = samples; }

  // Reads the finished runs and writes experiment.h5, summary.md and summary.csv (and
  // scaling.csv), with this many bootstrap resamples for the scaling fits' intervals.
  void write_report(int64_t bootstrap_samples);

 private:
  bool execute(const PlannedRun& run);
  std::string grow_into_stage(const PlannedRun& run, size_t k);
  void record_corpus_losses(const PlannedRun& run, size_t k);
  // Trains (or resumes) stage k of `run`, after checking its latest checkpoint is on the plan.
  bool train_stage(const PlannedRun& run, size_t k, const std::string& start_checkpoint);

  ExperimentConfig config_;
  std::string out_dir_;
  Engine& engine_;
  spdlog::logger& log_;
  SoloCommunicator solo_;
  Communicator& comm_;
  Plan plan_;
  int64_t step_budget_ = -1;
  int64_t bootstrap_samples_ = kBootstrapSamples;
};

}  // namespace tg
