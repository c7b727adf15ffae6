#include <cmath>
#include <filesystem>
#include <optional>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/log.h"
#include "core/error.h"
#include "core/config_reader.h"
#include "core/file_status.h"
#include "dist/process_group.h"
#include "experiment/experiment_dir.h"
#include "train/checkpoint.h"
#include "train/run_config.h"
#include "train/run_directory.h"
#include "train/trainer.h"

namespace tg {

int cmd_train(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log, Communicator& comm) {
  cxxopts::Options options("tokengrow train", "Train a model from a config file (see docs/config.md). Writes "
                                              "metrics.h5, ckpt_<step>.h5, latest.h5 and train.log into --out.");
  options.add_options()
      ("config", "Run config (JSON)", cxxopts::value<std::string>())
      ("out", "Run directory", cxxopts::value<std::string>())
      ("resume", "Continue a run directory (from its latest.h5, or without it its newest sound "
                 "ckpt_<step>.h5), or start a new stage from a checkpoint "
                 "file such as a grown model (then --out names the new run)", cxxopts::value<std::string>())
      ("data", "Corpus file, overriding the config's \"data\"", cxxopts::value<std::string>())
      ("steps", "Steps of this stage, overriding train.steps", cxxopts::value<int64_t>())
      ("threads", "Threads, overriding train.threads (0: all cores)", cxxopts::value<int64_t>());
  add_peer_timeout_flag(options);
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  apply_peer_timeout(args, "train", comm);
  if (comm.rank() != 0) set_verbosity(log, Verbosity::Quiet);  // rank 0 speaks for the job
  const int threads = args.count("threads") ? threads_flag(args, "train") : -1;  // -1: the config's
  // What to start from: nothing, a run directory to resume, or a checkpoint file.
  std::string start_checkpoint, out_dir = args.count("out") ? args["out"].as<std::string>() : "";
  if (args.count("resume")) {
    const std::string resume = args["resume"].as<std::string>();
    if (std::filesystem::is_directory(resume)) {
      start_checkpoint = resume_point(resume);  // latest.h5, or without it the newest sound ckpt_<step>.h5
      if (start_checkpoint.empty())
        throw UserError(resume + ": nothing to resume (no latest.h5 and no sound ckpt_<step>.h5 in this directory: "
                        "it never reached its first checkpoint); start it again with --config and --out " + resume);
      if (out_dir.empty()) out_dir = resume;
      else if (!std::filesystem::equivalent(out_dir, resume))
        throw UserError("tokengrow train: --resume " + resume + " continues that directory; drop --out or make it the same");
    } else {
      start_checkpoint = resume;
      if (out_dir.empty()) throw UserError("tokengrow train: --resume with a checkpoint file needs --out for the new run");
    }
  } else {
    require_flag(args, "train", "config");
    require_flag(args, "train", "out");
  }
  refuse_run_inside_experiment("tokengrow train", out_dir);  // its stages must match the experiment's plan
  RunConfig config;
  if (args.count("config")) {
    nlohmann::json json = read_json_file(args["config"].as<std::string>());
    if (args.count("data") && json.is_object()) json["data"] = args["data"].as<std::string>();  // before a vocab_size follows it
    config = parse_run_config(json, args["config"].as<std::string>());
    if (!start_checkpoint.empty()) {
      // Without model.vocab_size the corpus gives the vocabulary, so an unreadable corpus
      // would show as a model that differs from the checkpoint's: name the file instead.
      if (const std::string problem = regular_file_problem(config.data_path); !problem.empty())
        throw UserError(config.data_path + ": " + problem + " (the corpus to train on)");
      const nlohmann::json stored = read_checkpoint_config(start_checkpoint);
      const ModelConfig stored_model =
          parse_model_config(ConfigReader(stored.at("model"), start_checkpoint + " /config", "model"));
      if (stored_model.to_json() != config.model.to_json())
        throw UserError(args["config"].as<std::string>() + ": model differs from the model in " + start_checkpoint +
                        " (" + stored_model.to_json().dump() + "); use that model, or omit --config to reuse the "
                        "checkpoint's config");
    }
  } else {
    config = parse_run_config(read_checkpoint_config(start_checkpoint), start_checkpoint + " /config");
  }
  if (args.count("data")) config.data_path = args["data"].as<std::string>();
  if (args.count("steps")) {
    const int64_t steps = args["steps"].as<int64_t>();
    if (steps < 1) throw UserError("tokengrow train: --steps must be at least 1, got " + std::to_string(steps));
    config.train.steps = steps;
  }
  if (threads >= 0) config.train.threads = threads;
  Engine engine(threads_per_rank(config.train.threads, comm, log));
  Trainer trainer(config, engine, log, comm);
  const TrainResult r = trainer.run(out_dir, start_checkpoint);
  const std::string train_loss =
      std::isnan(r.final_train_loss) ? std::string("- (no step taken in this call)") : line(r.final_train_loss);
  log.info(line("done: ", r.steps, " steps, ", r.tokens, " tokens, ", r.flops / 1e12, " TFLOP, ", r.wall_s,
                " s; final train loss ", train_loss, ", val loss ", r.final_val_loss, " (val ppl ",
                std::exp(r.final_val_loss), ", ", r.final_val_bpb, " bits per byte)"));
  return 0;
}

}  // namespace tg
