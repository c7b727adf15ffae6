#include "experiment/experiment_runner.h"

#include <filesystem>
#include <map>
#include <stdexcept>
#include <vector>

#include "core/durable_file.h"
#include "core/log.h"
#include "core/run_lock.h"
#include "experiment/corpus_losses.h"
#include "experiment/experiment_dir.h"
#include "experiment/experiment_report.h"
#include "experiment/experiment_worker.h"
#include "experiment/plan_estimate.h"
#include "experiment/plan_identity.h"
#include "experiment/scaling_report.h"
#include "growth/grow_checkpoint.h"
#include "train/checkpoint.h"
#include "train/memory_estimate.h"
#include "train/metrics_log.h"
#include "train/run_directory.h"
#include "train/trainer.h"

namespace tg {

namespace fs = std::filesystem;

namespace {
StageProgress checkpoint_progress(const std::string& path) {
  TrainState state;
  load_model(path, &state);
  return {state.step, state.flops, path};
}

// The leftover temporary files of killed writes that the experiment's lock removed,
// and those of its runs' directories, which the lock covers too (a stage's own
// directory is cleared when the stage trains and locks it).
std::vector<std::string> remove_run_temp_files(const RunLock& lock, const std::string& out_dir,
                                               const std::vector<PlannedRun>& runs) {
  std::vector<std::string> removed = lock.removed_temp_files();
  for (const PlannedRun& run : runs)
    for (const std::string& file : remove_temp_files_in(run_dir(out_dir, run))) removed.push_back(file);
  return removed;
}
}  // namespace

ExperimentRunner::ExperimentRunner(const ExperimentConfig& config, Plan plan, std::string out_dir, Engine& engine,
                                   spdlog::logger& log, Communicator& comm)
    : config_(config), out_dir_(std::move(out_dir)), engine_(engine), log_(log), comm_(comm), plan_(std::move(plan)) {}

ExperimentRunner::ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine,
                                   spdlog::logger& log)
    : ExperimentRunner(config, make_plan(config, out_dir, 1), out_dir, engine, log, solo_) {}

ExperimentRunner::ExperimentRunner(const ExperimentConfig& config, std::string out_dir, Engine& engine,
                                   spdlog::logger& log, Communicator& comm)
    : ExperimentRunner(config, make_plan(config, out_dir, comm.size()), out_dir, engine, log, comm) {}

bool ExperimentRunner::train_stage(const PlannedRun& run, size_t k, const std::string& start_checkpoint) {
  const std::string& dir = run.stage_dirs[k];
  std::string start = resume_point(dir);  // latest.h5, or without it the newest sound ckpt_<step>.h5
  if (!start.empty()) {
    check_stage_progress(run, run_dir(out_dir_, run), k, checkpoint_progress(start), false);
  } else {
    start = start_checkpoint;
    // Stopped before its first checkpoint: only a partial log exists, which the
    // restarted (deterministic) run writes again.
    MetricsLog(metrics_log_path(dir)).remove();
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
  const std::string file = corpus_losses_file(run_dir(out_dir_, run), k);
  if (fs::exists(file)) return;
  const std::string checkpoint = latest_checkpoint_path(run.stage_dirs[k]);
  const std::map<std::string, double> losses =
      losses_on_corpora(engine_, checkpoint, corpora_seen(run, k), run.stages[k].train);
  std::string shown_losses;
  for (const auto& [corpus, loss] : losses) shown_losses += " " + corpus + " " + std::to_string(loss);
  log_.info(line(run.name, ": after stage ", k, ", val loss on", shown_losses));
  write_json_durably(file, {{"stage", k}, {"step", run.end_step(static_cast<int64_t>(k))}, {"losses", losses}});
}

// Grows the end of stage k - 1 into grown_<k>.h5 and records it in growth_<k>.json,
// unless recorded already; either way checks the record against the plan. Returns the
// grown model's path, where stage k starts.
std::string ExperimentRunner::grow_into_stage(const PlannedRun& run, size_t k) {
  const std::string dir = run_dir(out_dir_, run);
  const std::string grown = grown_model_file(dir, k);
  const std::string event = growth_record_file(dir, k);
  if (!fs::exists(event)) {
    log_.info(line(run.name, ": growing stage ", k - 1, " -> ", k));
    const std::string from = latest_checkpoint_path(run.stage_dirs[k - 1]);
    check_stage_progress(run, dir, k - 1, checkpoint_progress(from), true);
    if (fs::exists(grown)) fs::remove(grown);  // grown but not recorded: grow again (deterministic)
    const GrowReport g = grow_checkpoint(engine_, from, grown,
                                         growth_target_to(run.stages[k - 1].model, run.stages[k].model, run.name),
                                         run.growth[k], run.stages[k].train, run.stages[k].data_path);
    for (const auto& w : g.warnings) log_.warn(w);
    log_.info(line(run.name, ": val loss before growth ", g.val_loss_before, ", after ", g.val_loss_after));
    write_json_durably(event, {{"stage", k},
                               {"step", g.step},
                               {"tokens", g.tokens},
                               {"flops", g.flops},
                               {"loss_before", g.val_loss_before},
                               {"loss_after", g.val_loss_after},
                               {"growth", run.growth[k].to_json()}});
  }
  check_stage_progress(run, dir, k - 1, growth_event_progress(event), true);
  return grown;
}

bool ExperimentRunner::execute(const PlannedRun& run) {
  const fs::path dir = run_dir(out_dir_, run);
  fs::create_directories(dir);
  record_plan(run, dir.string());
  for (size_t k = 0; k < run.stages.size(); ++k) {
    const std::string start = k > 0 ? grow_into_stage(run, k) : std::string();
    log_.info(line(run.name, ": stage ", k, " (", run.stages[k].train.steps, " steps)"));
    if (!train_stage(run, k, start)) return false;
    record_corpus_losses(run, k);
  }
  write_done_marker(run, dir.string());
  return true;
}

bool ExperimentRunner::run() {
  // Every stage fits before the first trains (each Trainer checks its own again).
  if (const LargestStage largest = largest_stage(plan_, comm_.size()); largest.run)
    check_memory_fits(largest.memory, largest.run->stages[largest.stage].model,
                      largest.run->stages[largest.stage].train, "run " + largest.name() + ",");
  const RunLock lock(out_dir_);
  mark_experiment_dir(out_dir_, config_.file);
  attach_log_file(log_, (fs::path(out_dir_) / "experiment.log").string(), LogFileRole::Experiment);
  const std::vector<PlannedRun>& runs = plan_.runs;
  log_removed_temp_files(log_, remove_run_temp_files(lock, out_dir_, runs));
  log_.info(line("experiment ", config_.file, ": ", runs.size(), " runs into ", out_dir_, "; reference (1x) FLOPs ",
                 plan_.reference_flops));
  std::vector<bool> done;
  for (const PlannedRun& run : runs) {  // before anything trains
    check_plan(run, run_dir(out_dir_, run), config_.file);
    done.push_back(read_done_marker(run, run_dir(out_dir_, run)));
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& run = runs[i];
    if (done[i]) {
      log_.info(line("[", i + 1, "/", runs.size(), "] ", run.name, ": done, skipped"));
      continue;
    }
    log_.info(line("[", i + 1, "/", runs.size(), "] ", run.name, " (", kRunKindNames.to_string(run.kind()), ", ",
                   run.planned_flops / 1e12, " TFLOP)"));
    if (!execute(run)) {
      log_.info("stopped; re-run the same command to continue");
      return false;
    }
    write_report(0);  // between runs: without the bootstrap intervals
  }
  write_report(bootstrap_samples_);
  return true;
}

void ExperimentRunner::write_report(int64_t bootstrap_samples) {
  write_experiment_report(config_, out_dir_, plan_, bootstrap_samples);
}

}  // namespace tg
