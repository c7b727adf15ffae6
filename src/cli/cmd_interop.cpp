// `tokengrow export` and `tokengrow import`: checkpoints to and from PyTorch state_dicts
// with the key names of the public GPT-NeoX TokenFormer (docs/interop.md), through
// python/tokengrow_torch.py; and `export --format packed`, a binary/ternary model's packed
// inference file (inference/packed_model.h, docs/bitnet.md).
#include <filesystem>

#include <cxxopts.hpp>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "cli/python_tool.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "inference/packed_model.h"

namespace tg {

namespace {
void refuse_existing(const std::string& path, bool force, const std::string& command) {
  if (!force && std::filesystem::exists(path))
    throw UserError(path + ": already exists; tokengrow " + command + " never overwrites a file unless given --force");
}

// --format packed: checked like the torch export, written by tokengrow itself (temporary
// file, rename; without --force an `out` appearing meanwhile is not replaced either).
int export_packed(const std::string& ckpt, const std::string& out_file, bool force, std::ostream& out) {
  refuse_existing(out_file, force, "export");
  write_packed_model(ckpt, out_file, force ? Publish::Replace : Publish::Exclusive);
  out << "wrote " << out_file << ": " << std::filesystem::file_size(out_file)
      << " bytes, binary/ternary weights packed at 2 bits each (checkpoint " << std::filesystem::file_size(ckpt)
      << " bytes)\n";
  return 0;
}
}  // namespace

int cmd_export(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow export",
                           "Write a checkpoint's weights as a PyTorch state_dict with the public GPT-NeoX TokenFormer's "
                           "key names, and its config as JSON beside it (OUT with .json), via python/tokengrow_torch.py; "
                           "or (--format packed) a ternary/binary model's packed inference file.");
  options.add_options()
      ("ckpt", "Checkpoint file", cxxopts::value<std::string>())
      ("format", "torch, or packed (a model trained with model.weights ternary or binary, for eval/sample --packed)",
       cxxopts::value<std::string>()->default_value("torch"))
      ("out", "Output .pt file (packed: the packed model file, e.g. M.tgq)", cxxopts::value<std::string>())
      ("force", "Replace existing output files");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "export", "ckpt");
  require_flag(args, "export", "out");
  const std::string format = args["format"].as<std::string>();
  if (format != "torch" && format != "packed")
    throw UserError("tokengrow export: --format must be torch or packed, got \"" + shown(format) + "\"");
  const std::string ckpt = args["ckpt"].as<std::string>(), pt = args["out"].as<std::string>();
  if (format == "packed") return export_packed(ckpt, pt, args.count("force") > 0, out);
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
