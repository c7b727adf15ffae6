// `tokengrow export` and `tokengrow import`: checkpoints to and from PyTorch state_dicts
// with the key names of the public GPT-NeoX TokenFormer (docs/interop.md), through
// python/tokengrow_torch.py.
#include <filesystem>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "cli/python_tool.h"
#include "core/error.h"
#include "train/checkpoint.h"

namespace tg {

namespace {
void refuse_existing(const std::string& path, bool force, const std::string& command) {
  if (!force && std::filesystem::exists(path))
    throw UserError(path + ": already exists; tokengrow " + command + " never overwrites a file unless given --force");
}
}  // namespace

int cmd_export(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow export",
                           "Write a checkpoint's weights as a PyTorch state_dict with the public GPT-NeoX TokenFormer's "
                           "key names, and its config as JSON beside it (OUT with .json), via python/tokengrow_torch.py.");
  options.add_options()
      ("ckpt", "Checkpoint file", cxxopts::value<std::string>())
      ("format", "torch (the only format yet)", cxxopts::value<std::string>()->default_value("torch"))
      ("out", "Output .pt file", cxxopts::value<std::string>())
      ("force", "Replace existing output files");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "export", "ckpt");
  require_flag(args, "export", "out");
  if (args["format"].as<std::string>() != "torch")
    throw UserError("tokengrow export: --format must be torch, got \"" + shown(args["format"].as<std::string>()) + "\"");
  const std::string ckpt = args["ckpt"].as<std::string>(), pt = args["out"].as<std::string>();
  read_checkpoint_config(ckpt);  // a damaged or foreign file is refused here, in tokengrow's words
  const std::filesystem::path base = std::filesystem::path(pt).replace_extension();
  for (const std::string& out_file : {pt, base.string() + ".json", base.string() + ".model"})
    refuse_existing(out_file, args.count("force") > 0, "export");
  return run_torch_tool({"export", ckpt, pt});
}

int cmd_import(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow import",
                           "Make a tokengrow checkpoint from a PyTorch state_dict with the public GPT-NeoX "
                           "TokenFormer's key names (from `tokengrow export`, tokengrow_torch.py or the public code) "
                           "and its JSON config; weights only, with a fresh optimizer.");
  options.add_options()
      ("state-dict", "The .pt file", cxxopts::value<std::string>())
      ("config", "Its JSON config (default: the .pt path with .json)", cxxopts::value<std::string>())
      ("out", "Output checkpoint (.h5)", cxxopts::value<std::string>())
      ("force", "Replace an existing --out");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "import", "state-dict");
  require_flag(args, "import", "out");
  const std::string pt = args["state-dict"].as<std::string>(), ckpt = args["out"].as<std::string>();
  const std::string config = args.count("config") ? args["config"].as<std::string>()
                                                  : std::filesystem::path(pt).replace_extension(".json").string();
  refuse_existing(ckpt, args.count("force") > 0, "import");
  // Written under a temporary name, checked by tokengrow's own reader, then renamed:
  // a failed import leaves no file and never replaces an existing one.
  const std::string written = ckpt + ".importing";
  const int code = run_torch_tool({"import", pt, config, written});
  if (code != 0) {
    std::filesystem::remove(written);
    return code;
  }
  try {
    load_model(written);
  } catch (const UserError&) {
    std::filesystem::remove(written);
    throw;
  }
  std::filesystem::rename(written, ckpt);
  out << "wrote " << ckpt << ": weights only, with a fresh optimizer state\n";
  return 0;
}

}  // namespace tg
