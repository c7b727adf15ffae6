#pragma once
// One run of an experiment as planned (plan.h makes the plan), and the
// check that what a stage directory holds is where the plan puts that stage.
//
// Stage k of a run trains stages[k].train.steps steps of stage_step_flops[k] FLOPs
// each, from the end of stage k-1:
//   end_step[k]  = end_step[k-1] + steps_k             (end_step[-1] = 0)
//   end_flops[k] = end_flops[k-1] + steps_k * step_flops_k
// A stage's checkpoints and metrics must lie on that line: step s in
// [end_step[k-1], end_step[k]] with end_flops[k-1] + (s - end_step[k-1]) step_flops_k
// FLOPs, and a finished stage (grown from, or reported) exactly at its end. Anything
// else was trained outside the experiment (e.g. `tokengrow train --resume` on a stage
// directory with other --steps) and would make the recipe's FLOPs and results wrong.
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/enum_names.h"
#include "growth/growth_options.h"
#include "train/run_config.h"

namespace tg {

// What a run is for, with what only that kind of run has. kRunKindNames is the one table
// of the names written to done.json, summaries and experiment.h5.
enum class RunKind { Recipe, Frontier, StageSize, Transformer, Scaling };
inline constexpr EnumNames<RunKind, 5> kRunKindNames{"run kind",
                                                     {{{RunKind::Recipe, "recipe"},
                                                       {RunKind::Frontier, "frontier"},
                                                       {RunKind::StageSize, "stage_size"},
                                                       {RunKind::Transformer, "transformer"},
                                                       {RunKind::Scaling, "scaling"}}}};

struct RecipeRun {
  std::string recipe;  // the recipe's name
};
struct FrontierRun {
  double budget = 0;  // x the reference FLOPs
};
struct StageSizeRun {};
struct TransformerRun {};
struct ScalingPoint {
  std::string size, budget_name;  // the size's name and the budget as in the run name
  double lr = 0;                  // the peak LR
};
// In RunKind's order: the index is the kind.
using RunPayload = std::variant<RecipeRun, FrontierRun, StageSizeRun, TransformerRun, ScalingPoint>;
static_assert(std::variant_size_v<RunPayload> == static_cast<size_t>(RunKind::Scaling) + 1);
static_assert(std::is_same_v<std::variant_alternative_t<static_cast<size_t>(RunKind::Scaling), RunPayload>, ScalingPoint>);

struct PlannedRun {
  std::string name;
  uint64_t seed = 0;
  RunPayload payload;
  std::vector<RunConfig> stages;                 // one per stage (one for baselines)
  std::vector<GrowthOptions> growth;             // growth into stage k (index k, k >= 1)
  std::vector<std::string> stage_dirs;           // where each stage trains
  std::vector<double> stage_step_flops;          // training FLOPs of one step of each stage
  double planned_flops = 0;

  RunKind kind() const { return static_cast<RunKind>(payload.index()); }
  // The payload of a run of that kind; nullptr for another kind.
  template <class Payload>
  const Payload* as() const {
    return std::get_if<Payload>(&payload);
  }

  // Global step and cumulative FLOPs at the end of stage k (k = -1: the start, 0 and 0).
  int64_t end_step(int64_t k) const;
  double end_flops(int64_t k) const;
};

// out_dir/<run name>: the run's directory (done.json, plan.json, growth records).
std::string run_dir(const std::string& out_dir, const PlannedRun& run);

// The files in a run's directory, named here only.
std::string plan_file(const std::string& run_dir);  // plan.json: the run as planned (plan_identity.h)
std::string done_file(const std::string& run_dir);  // done.json: the run is finished
// grown_<k>.h5: the model grown from the end of stage k - 1 that stage k starts from.
std::string grown_model_file(const std::string& run_dir, size_t k);
// growth_<k>.json: the record of that growth (step, FLOPs, losses before and after).
std::string growth_record_file(const std::string& run_dir, size_t k);
// corpus_losses_<k>.json: the losses on every corpus seen at the end of stage k (corpus_losses.h).
std::string corpus_losses_file(const std::string& run_dir, size_t k);

// Where a stage directory's checkpoint, metrics log or growth record says training is.
struct StageProgress {
  int64_t step = 0;
  double flops = 0;
  std::string source;  // the file it was read from
};

// The step and FLOPs a growth record (growth_<k>.json) says the grown stage started from.
StageProgress growth_event_progress(const std::string& path);

// Throws UserError naming the run, the stage, `found.source` and the run's plan.json
// (run_dir/plan.json) with the planned and found step and FLOPs unless `found` lies
// on stage k's line (finished: exactly at its end).
void check_stage_progress(const PlannedRun& run, const std::string& run_dir, size_t k, const StageProgress& found,
                          bool finished);

// run_dir/done.json marks a finished run: {"name", "kind", "seed"} of the run.
void write_done_marker(const PlannedRun& run, const std::string& run_dir);
// False if absent. A marker that is not valid JSON or names another run is a
// UserError naming the file: a run is never taken as finished on a damaged marker.
bool read_done_marker(const PlannedRun& run, const std::string& run_dir);
// Which of `runs` are finished (read_done_marker in run_dir(out_dir, run)), in order.
std::vector<bool> done_runs(const std::vector<PlannedRun>& runs, const std::string& out_dir);

}  // namespace tg
