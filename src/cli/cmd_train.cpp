#include <cmath>
#include <filesystem>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/error.h"
#include "train/run_config.h"
#include "train/trainer.h"

namespace tg {

int cmd_train(int argc, const char* const* argv, std::ostream& out) {
  cxxopts::Options options("tokengrow train", "Train a model from a config file (see docs/config.md). Writes "
                                              "metrics.h5, ckpt_<step>.h5 and latest.h5 into --out.");
  options.add_options()
      ("config", "Run config (JSON)", cxxopts::value<std::string>())
      ("out", "Run directory", cxxopts::value<std::string>())
      ("resume", "Continue the run in --out from its latest.h5")
      ("data", "Corpus file, overriding the config's \"data\"", cxxopts::value<std::string>())
      ("steps", "Total steps, overriding train.steps", cxxopts::value<int64_t>())
      ("threads", "Threads, overriding train.threads (0: all cores)", cxxopts::value<int64_t>());
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out)) return 0;
  require_flag(args, "train", "config");
  require_flag(args, "train", "out");
  RunConfig config = load_run_config(args["config"].as<std::string>());
  if (args.count("data")) config.data_path = args["data"].as<std::string>();
  if (args.count("steps")) {
    const int64_t steps = args["steps"].as<int64_t>();
    if (steps < 1) throw UserError("tokengrow train: --steps must be at least 1, got " + std::to_string(steps));
    config.train.steps = steps;
  }
  if (args.count("threads")) {
    const int64_t threads = args["threads"].as<int64_t>();
    if (threads < 0) throw UserError("tokengrow train: --threads must be >= 0, got " + std::to_string(threads));
    config.train.threads = threads;
  }
  Engine engine(static_cast<int>(config.train.threads));
  Trainer trainer(config, engine, out);
  const TrainResult r = trainer.run(args["out"].as<std::string>(), args.count("resume") > 0);
  out << "done: " << r.steps << " steps, " << r.tokens << " tokens, " << r.flops / 1e12 << " TFLOP, "
      << r.wall_s << " s; final train loss " << r.final_train_loss << ", val loss " << r.final_val_loss
      << " (val ppl " << std::exp(r.final_val_loss) << ")\n";
  return 0;
}

}  // namespace tg
