#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/log.h"
#include "core/memory_usage.h"
#include "core/error.h"
#include "experiment/experiment_runner.h"
#include "experiment/experiment_worker.h"
#include "experiment/plan.h"
#include "experiment/plan_estimate.h"
#include "experiment/scaling_report.h"
#include "train/rank_agreement.h"

namespace tg {

namespace {
// --plan: the pure planner and its estimate; an engine only to time steps (--plan-steps > 0).
int print_experiment_plan(const cxxopts::ParseResult& args, const ExperimentConfig& config, int threads,
                          std::ostream& out) {
  const std::string out_dir = args["out"].as<std::string>();
  const Plan plan = make_plan(config, out_dir, 1);
  const int64_t plan_steps = args["plan-steps"].as<int64_t>();
  if (plan_steps < 0 || plan_steps > 100)
    throw UserError("--plan-steps must be in [0, 100], got " + std::to_string(plan_steps));
  double load_before = 0;
  if (getloadavg(&load_before, 1) != 1) load_before = 0;
  MicroBatchSeconds timed;
  if (plan_steps > 0) {
    Engine engine(threads);
    timed = time_micro_batches(engine, plan, plan_steps);
  }
  print_plan(out, plan, estimate_plan(plan, timed), done_runs(plan.runs, out_dir));
  if (const LargestStage largest = largest_stage(plan, 1); largest.run) {
    const RunConfig& stage = largest.run->stages[largest.stage];
    const AvailableMemory available = available_memory();
    out << "memory: the largest stage (" << largest.name() << ") needs about "
        << memory_summary(largest.memory, stage.model, stage.train)
        << (available.known() ? "; " + memory_text(static_cast<double>(available.bytes)) + " available" : "") << "\n";
  }
  // Timed steps on a busy machine (another training process spinning its threads on
  // the same cores) can run many times slower than alone: say so rather than mislead.
  if (plan_steps > 0 && load_before > 0.5)
    out << "note: the machine was busy while the steps were timed (load average " << load_before << " on "
        << std::thread::hardware_concurrency() << " cores): other processes share the cores, and the "
        << "estimate can be far above the time alone\n";
  return 0;
}
}  // namespace

int cmd_experiment(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm) {
  cxxopts::Options options("tokengrow experiment",
                           "Run an experiment config: growth recipes against from-scratch baselines "
                           "(docs/experiments.md). Re-run the same command to continue after a stop.");
  options.add_options()
      ("config", "Experiment config (JSON)", cxxopts::value<std::string>())
      ("out", "Experiment directory", cxxopts::value<std::string>())
      ("plan", "Print every run (params, tokens, FLOPs, estimated wall time from a few timed steps of each model) "
               "and the total, without training")
      ("plan-steps", "Steps timed per distinct model for --plan's estimate (0: no timing)",
       cxxopts::value<int64_t>()->default_value("3"))
      ("bootstrap", "Bootstrap resamples behind the scaling report's intervals, each a refit (0: no intervals)",
       cxxopts::value<int64_t>()->default_value(std::to_string(kBootstrapSamples)))
      ("threads", "Threads, overriding the config's train.threads (0: all cores)", cxxopts::value<int64_t>());
  add_peer_timeout_flag(options);
  options.parse_positional({"config"});
  options.positional_help("CONFIG.json").show_positional_help();
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  apply_peer_timeout(args, "experiment", comm);
  const int threads_given = args.count("threads") ? threads_flag(args, "experiment") : -1;  // -1: the config's
  require_flag(args, "experiment", "config");
  require_flag(args, "experiment", "out");
  if (comm.size() > 1 && args.count("plan"))
    throw UserError("tokengrow experiment --plan: run it as one process, not under mpirun");
  const ExperimentConfig config = load_experiment_config(args["config"].as<std::string>());
  const int threads = threads_given >= 0 ? threads_given : static_cast<int>(config.threads());
  if (args.count("plan")) return print_experiment_plan(args, config, threads, out);
  check_ranks_agree(comm, {directory_fact("the experiment directory (--out)", args["out"].as<std::string>())});
  Engine engine(threads_per_rank(threads, comm, log));
  if (comm.rank() != 0) {  // rank 0 plans, grows and writes; this rank trains each stage with it
    set_verbosity(log, Verbosity::Quiet);
    follow_experiment(comm, engine, log);
    return 0;
  }
  const int64_t bootstrap = args["bootstrap"].as<int64_t>();
  if (bootstrap < 0 || bootstrap > kMaxBootstrapSamples)
    throw UserError("--bootstrap must be in [0, " + std::to_string(kMaxBootstrapSamples) + "], got " +
                    std::to_string(bootstrap));
  ExperimentRunner runner(config, args["out"].as<std::string>(), engine, log, comm);
  runner.set_bootstrap_samples(bootstrap);
  const bool finished = runner.run();
  end_experiment_followers(comm);
  if (!finished) return 3;
  // The summary, line by line, as the last lines of the log (and experiment.log).
  std::ifstream summary(args["out"].as<std::string>() + "/summary.md");
  log.info("");
  for (std::string text; std::getline(summary, text);) log.info(text);
  return 0;
}

}  // namespace tg
