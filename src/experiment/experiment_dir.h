#pragma once
// Which directories belong to an experiment. `tokengrow experiment` holds the lock
// on its --out directory (core/run_lock.h) and marks it with <out>/.experiment; the
// runner trains every run and stage below it in its own process. Any other trainer
// (`tokengrow train`) is refused a run directory inside a marked one, whether the
// experiment is running or not: a stage trained on outside the plan would be grown
// from or reported with the wrong steps and FLOPs. Directories written before the
// marker existed are recognised by the runner's own files beside its .lock:
// experiment.h5 in the experiment directory, plan.json in each run directory.
#include <string>

namespace tg {

// Writes <out_dir>/.experiment (atomically) unless present; out_dir exists (the lock made it).
void mark_experiment_dir(const std::string& out_dir, const std::string& config_file);

// The experiment directory holding `dir` (dir itself or an ancestor), or "" if none.
std::string enclosing_experiment_dir(const std::string& dir);

// Throws UserError when `dir` lies inside an experiment directory.
void refuse_run_inside_experiment(const std::string& command, const std::string& dir);

}  // namespace tg
