#include <cxxopts.hpp>
#include <iomanip>
#include <map>

#include "cli/cli.h"
#include "cli/cli_options.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "data/tokenizer.h"

namespace tg {

int cmd_inspect(int argc, const char* const* argv, std::ostream& out, spdlog::logger& log) {
  cxxopts::Options options("tokengrow inspect", "Print a checkpoint's config, training state and parameters per layer.");
  options.add_options()("ckpt", "Checkpoint file", cxxopts::value<std::string>());
  options.parse_positional({"ckpt"});
  options.positional_help("CKPT.h5").show_positional_help();
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args, out, log)) return 0;
  require_flag(args, "inspect", "ckpt");
  const std::string path = args["ckpt"].as<std::string>();
  const nlohmann::json config = read_checkpoint_config(path);
  TrainState state;
  auto model = load_model(path, &state);

  out << "checkpoint " << path << "\n";
  out << "config:\n" << config.dump(2) << "\n";
  out << "state: step " << state.step << ", stage " << state.stage << ", tokens " << state.tokens << ", FLOPs "
      << state.flops << ", train time " << state.wall_s << " s\n";
  out << "tokenizer: " << Tokenizer(state.tokenizer, path).describe()
      << (state.tokenizer.model.empty() ? "" : ", its SentencePiece model in the checkpoint (/tokenizer_model)") << "\n";
  out << "parameters: " << model->n_params() << "\n";
  // Group parameter counts by layer ("layers/3/..." -> layer 3; others by their own name).
  std::map<std::string, int64_t> groups;
  std::vector<std::string> order;
  for (Parameter* p : model->parameters()) {
    std::string group = p->name;
    if (group.rfind("layers/", 0) == 0) group = group.substr(0, group.find('/', 7));
    if (!groups.count(group)) order.push_back(group);
    groups[group] += p->value.numel();
  }
  for (const auto& g : order) out << "  " << std::left << std::setw(16) << g << groups[g] << "\n";
  for (Pattention* p : model->pattentions())
    out << "  " << std::left << std::setw(28) << p->name() << p->n_tokens() << " tokens x (" << p->d_in() << " -> "
        << p->d_out() << "), tau " << p->tau() << ", " << to_string(p->norm()) << "\n";
  return 0;
}

}  // namespace tg
