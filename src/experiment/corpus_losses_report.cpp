#include "experiment/corpus_losses_report.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/config_reader.h"
#include "core/durable_file.h"
#include "experiment/report_format.h"

namespace tg {

namespace fs = std::filesystem;
using report::fmt;
using report::mean_std;

namespace {
// losses[recipe][stage][corpus]: one value per seed.
using LossTable = std::map<std::string, std::map<int64_t, std::map<std::string, std::vector<double>>>>;
}  // namespace

std::string corpus_losses_markdown(const ExperimentConfig& config, const std::string& out_dir,
                                   const std::vector<RunResult>& results) {
  LossTable table;
  std::vector<std::string> corpora;  // every corpus, in order of first appearance
  std::ostringstream csv;
  csv << "run,recipe,seed,stage,step,corpus,val_loss\n";
  for (const RunResult& r : results) {
    if (r.plan->kind != "recipe") continue;
    for (size_t k = 0; k < r.plan->stages.size(); ++k) {
      const fs::path file = fs::path(out_dir) / r.plan->name / ("corpus_losses_" + std::to_string(k) + ".json");
      if (!fs::exists(file)) continue;
      const nlohmann::json j = read_json_file(file.string());
      for (auto it = j.at("losses").begin(); it != j.at("losses").end(); ++it) {
        const double loss = it.value().get<double>();
        table[r.plan->recipe][static_cast<int64_t>(k)][it.key()].push_back(loss);
        if (std::find(corpora.begin(), corpora.end(), it.key()) == corpora.end()) corpora.push_back(it.key());
        csv << r.plan->name << "," << r.plan->recipe << "," << r.plan->seed << "," << k << "," << j.at("step") << ","
            << it.key() << "," << fmt(loss, "%.6f") << "\n";
      }
    }
  }
  if (table.empty()) return "";
  write_file_durably((fs::path(out_dir) / "corpus_losses.csv").string(), csv.str());

  std::ostringstream md;
  md << "## Validation loss on every corpus seen, at the end of each stage (forgetting; mean ± std over seeds)\n\n"
        "A later stage on new data that raises the loss on an earlier corpus forgets it; `-`: not yet seen.\n\n"
        "| recipe | after stage |";
  for (const std::string& c : corpora) md << " " << c << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < corpora.size(); ++i) md << "---|";
  md << "\n";
  for (const RecipeSpec& recipe : config.recipes) {
    const auto found = table.find(recipe.name);
    if (found == table.end()) continue;
    for (const auto& [stage, losses] : found->second) {
      md << "| " << recipe.name << " | " << stage << " |";
      for (const std::string& c : corpora) {
        const auto cell = losses.find(c);
        md << " " << (cell == losses.end() ? "-" : mean_std(cell->second, false)) << " |";
      }
      md << "\n";
    }
  }
  md << "\n";
  return md.str();
}

}  // namespace tg
