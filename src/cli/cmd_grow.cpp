#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/log.h"
#include "core/error.h"
#include "core/run_lock.h"
#include "growth/grow_checkpoint.h"
#include "train/checkpoint.h"

namespace tg {

namespace {
// "--key-name" of a growth option's config key "key_name".
std::string growth_flag(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return "--" + key;
}

// The growth options of the flags, checked by the rules a config's growth object passes.
GrowthOptions growth_options_from_flags(const cxxopts::ParseResult& args) {
  GrowthOptions opts;
  opts.key_init = enum_flag(args, "grow", "key-init", kKeyInitNames);
  opts.value_init = enum_flag(args, "grow", "value-init", kValueInitNames);
  if (args.count("key-std")) opts.key_std = args["key-std"].as<double>();
  if (args.count("value-std")) opts.value_std = args["value-std"].as<double>();
  opts.tau = enum_flag(args, "grow", "tau", kTauGrowthNames);
  opts.anneal_steps = args["anneal-steps"].as<int64_t>();
  opts.optimizer = enum_flag(args, "grow", "optimizer", kOptimizerGrowthNames);
  opts.seed = static_cast<uint64_t>(args["seed"].as<int64_t>());
  opts.train_old = args.count("freeze-old") == 0;
  opts.freeze_steps = args["freeze-steps"].as<int64_t>();
  opts.width_noise = args["width-noise"].as<double>();
  opts.depth_init = enum_flag(args, "grow", "depth-init", kDepthInitNames);
  opts.depth_position = enum_flag(args, "grow", "depth-position", kDepthPositionNames);
  if (const auto error = growth_options_error(opts))
    throw UserError("tokengrow grow: " + growth_flag(error->key) + " " + error->message);
  return opts;
}
}  // namespace

int cmd_grow(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow grow",
                           "Grow a checkpoint: append parameter tokens to every Pattention layer (TokenFormer) "
                           "and/or add blocks (--layers) and/or widen (--d-model; both architectures). The target is "
                           "--to CONFIG.json (its model: token counts, n_layers, d_model; its train section becomes "
                           "the next stage's), or token counts or --factor with --layers and --d-model. Prints validation loss before and after, and calls the "
                           "growth exact only if it measured so (relative change below 1e-6).");
  options.add_options()
      ("from", "Checkpoint to grow", cxxopts::value<std::string>())
      ("out", "Grown checkpoint to write (must not exist)", cxxopts::value<std::string>())
      ("to", "Run config whose model is the target", cxxopts::value<std::string>())
      ("qkv-tokens", "Target Q/K/V tokens", cxxopts::value<int64_t>())
      ("proj-tokens", "Target output-projection tokens", cxxopts::value<int64_t>())
      ("ffn-tokens", "Target FFN tokens", cxxopts::value<int64_t>())
      ("factor", "Multiply every token count by this (>= 1)", cxxopts::value<double>())
      ("layers", "Target number of blocks (depth growth)", cxxopts::value<int64_t>())
      ("d-model", "Target width, a multiple k of d (width growth, HyperCloning: heads and the Transformer's MLP "
                  "widen by k; exact)", cxxopts::value<int64_t>())
      ("width-noise", "Zero-sum noise that separates the cloned copies, relative to each weight's rms "
                      "(forward-exact at any value; 0: the copies stay identical)",
       cxxopts::value<double>()->default_value(std::to_string(GrowthOptions().width_noise)))
      ("depth-init", "New blocks: identity (return their input: exact), stack (copy the blocks in order, "
                     "G_stack) or interleave (copy each block after itself)",
       cxxopts::value<std::string>()->default_value(kDepthInitNames.to_string(GrowthOptions().depth_init)))
      ("depth-position", "Where identity blocks go: end or interleave",
       cxxopts::value<std::string>()->default_value(kDepthPositionNames.to_string(GrowthOptions().depth_position)))
      ("key-init", "New keys: zero or normal",
       cxxopts::value<std::string>()->default_value(kKeyInitNames.to_string(GrowthOptions().key_init)))
      ("value-init", "New values: normal or zero",
       cxxopts::value<std::string>()->default_value(kValueInitNames.to_string(GrowthOptions().value_init)))
      ("key-std", "Std of normal new keys (default: the model's init_std)", cxxopts::value<double>())
      ("value-std", "Std of normal new values (default: the std the model's values were initialised with)", cxxopts::value<double>())
      ("tau", "fixed (keep tau: with zero keys exact for l2_norm_gelu and gelu_l2_norm, not softmax), dynamic "
              "(sqrt(new n)) or anneal (kept, then moved to sqrt(new n))",
       cxxopts::value<std::string>()->default_value(kTauGrowthNames.to_string(GrowthOptions().tau)))
      ("anneal-steps", "Steps over which tau moves to sqrt(new n) (with --tau anneal)", cxxopts::value<int64_t>()->default_value("0"))
      ("optimizer", "keep (old Adam moments, fresh per-row state for new rows) or reset",
       cxxopts::value<std::string>()->default_value(kOptimizerGrowthNames.to_string(GrowthOptions().optimizer)))
      ("seed", "Seed for the new rows", cxxopts::value<int64_t>()->default_value("0"))
      ("freeze-old", "Keep the old rows (old tokens, old blocks, embedding, norm) frozen for the whole next stage "
                     "(growth option train_old false)")
      ("freeze-steps", "Keep the old rows frozen for the next stage's first N steps, then train all",
       cxxopts::value<int64_t>()->default_value("0"))
      ("data", "Corpus for the before/after validation (default: the checkpoint config's)", cxxopts::value<std::string>())
      ("threads", "Threads (0: all cores)", cxxopts::value<int64_t>()->default_value("0"));
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  const int threads = threads_flag(args, "grow");
  require_flag(args, "grow", "from");
  require_flag(args, "grow", "out");
  const std::string from = args["from"].as<std::string>(), out_path = args["out"].as<std::string>();
  const int targets = static_cast<int>(args.count("to") > 0) + static_cast<int>(args.count("factor") > 0) +
                      static_cast<int>(args.count("qkv-tokens") + args.count("proj-tokens") + args.count("ffn-tokens") > 0);
  if (targets > 1 || (targets == 0 && args.count("layers") == 0 && args.count("d-model") == 0))
    throw UserError("tokengrow grow: give one token target (--to CONFIG.json, token counts --qkv-tokens, "
                    "--proj-tokens, --ffn-tokens, or --factor) and/or --layers N and/or --d-model D");
  if (args.count("to") && (args.count("layers") || args.count("d-model")))
    throw UserError("tokengrow grow: --to CONFIG.json sets the blocks and width (its model's n_layers and d_model); "
                    "leave --layers and --d-model out");
  if (std::filesystem::exists(std::filesystem::symlink_status(out_path)))
    throw UserError(out_path + ": already exists; grow never overwrites a file (choose another --out)");

  const RunConfig source = parse_run_config(read_checkpoint_config(from), from + " /config");
  const ModelConfig& m = source.model;
  if (args.count("layers") && args["layers"].as<int64_t>() < 1)
    throw UserError("--layers must be a number of blocks >= 1, got " + std::to_string(args["layers"].as<int64_t>()));
  if (args.count("d-model") && args["d-model"].as<int64_t>() < 1)
    throw UserError("--d-model must be a width >= 1, got " + std::to_string(args["d-model"].as<int64_t>()));
  GrowthTarget target{m.qkv_tokens, m.proj_tokens, m.ffn_tokens, 0, 0};  // 0: blocks and width kept
  std::optional<TrainConfig> next_train;
  if (args.count("to")) {
    const std::string to_path = args["to"].as<std::string>();
    const RunConfig to = load_run_config(to_path);
    target = growth_target_to(m, to.model, to_path);
    next_train = to.train;
  } else if (args.count("factor")) {
    target = growth_target_from_factor(m, args["factor"].as<double>());
  } else {
    if (args.count("qkv-tokens")) target.qkv_tokens = args["qkv-tokens"].as<int64_t>();
    if (args.count("proj-tokens")) target.proj_tokens = args["proj-tokens"].as<int64_t>();
    if (args.count("ffn-tokens")) target.ffn_tokens = args["ffn-tokens"].as<int64_t>();
  }
  if (args.count("layers")) target.n_layers = args["layers"].as<int64_t>();
  if (args.count("d-model")) target.d_model = args["d-model"].as<int64_t>();

  const GrowthOptions opts = growth_options_from_flags(args);

  // Into a run or experiment directory only while no run holds it, and then holding it.
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  const std::string out_dir = parent.empty() ? "." : parent.string();
  std::optional<RunLock> lock;
  if (has_lock_file(out_dir)) lock.emplace(out_dir);
  if (lock) log_removed_temp_files(log, lock->removed_temp_files());
  Engine engine(threads);
  const GrowReport r = grow_checkpoint(engine, from, out_path, target, opts, next_train,
                                       args.count("data") ? args["data"].as<std::string>() : "");
  for (const auto& w : r.warnings) log.warn(w);
  for (const auto& n : r.notes) log.info("note: " + n);
  log.info(line("grew ", from, " (step ", r.step, ") -> ", out_path, ": tokens q/k/v ", r.from.qkv_tokens, " -> ",
                r.to.qkv_tokens, ", proj ", r.from.proj_tokens, " -> ", r.to.proj_tokens, ", ffn ", r.from.ffn_tokens,
                " -> ", r.to.ffn_tokens, ", blocks ", r.from.n_layers, " -> ", r.to.n_layers, ", d_model ", r.from.d_model,
                " -> ", r.to.d_model));
  log.info(line("val loss before ", r.val_loss_before, ", after ", r.val_loss_after, " (change ",
                r.val_loss_after - r.val_loss_before, ", relative ", r.relative_change(), "): ",
                r.exact() ? "exact" : "not exact", " (measured; exact means |relative change| < ",
                kExactGrowthRelativeChange, ")"));
  return 0;
}

}  // namespace tg
