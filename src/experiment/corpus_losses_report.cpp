#include "experiment/corpus_losses_report.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "core/config_reader.h"
#include "experiment/report_format.h"

namespace tg {

namespace fs = std::filesystem;
using report::fmt;
using report::mean_std;

std::vector<CorpusLoss> read_corpus_losses(const std::string& out_dir, const std::vector<RunResult>& results) {
  std::vector<CorpusLoss> rows;
  for (const RunResult& r : results) {
    const RecipeRun* of = r.plan->as<RecipeRun>();
    if (!of) continue;
    for (size_t k = 0; k < r.plan->stages.size(); ++k) {
      const std::string file = corpus_losses_file(run_dir(out_dir, *r.plan), k);
      if (!fs::exists(file)) continue;
      const nlohmann::json j = read_json_file(file);
      for (auto it = j.at("losses").begin(); it != j.at("losses").end(); ++it)
        rows.push_back({r.plan->name, of->recipe, it.key(), r.plan->seed, static_cast<int64_t>(k),
                        j.at("step").get<int64_t>(), it.value().get<double>()});
    }
  }
  return rows;
}

std::string corpus_losses_csv(const std::vector<CorpusLoss>& rows) {
  std::ostringstream csv;
  csv << "run,recipe,seed,stage,step,corpus,val_loss\n";
  for (const CorpusLoss& row : rows)
    csv << row.run << "," << row.recipe << "," << row.seed << "," << row.stage << "," << row.step << "," << row.corpus
        << "," << fmt(row.val_loss, "%.6f") << "\n";
  return csv.str();
}

std::string corpus_losses_markdown(const ExperimentConfig& config, const std::vector<CorpusLoss>& rows) {
  if (rows.empty()) return "";
  // losses[recipe][stage][corpus]: one value per seed.
  std::map<std::string, std::map<int64_t, std::map<std::string, std::vector<double>>>> losses;
  std::vector<std::string> corpora;  // every corpus, in order of first appearance
  for (const CorpusLoss& row : rows) {
    losses[row.recipe][row.stage][row.corpus].push_back(row.val_loss);
    if (std::find(corpora.begin(), corpora.end(), row.corpus) == corpora.end()) corpora.push_back(row.corpus);
  }
  std::ostringstream md;
  md << "## Validation loss on every corpus seen, at the end of each stage (forgetting; mean ± std over seeds)\n\n"
        "A later stage on new data that raises the loss on an earlier corpus forgets it; `-`: not yet seen.\n\n"
        "| recipe | after stage |";
  for (const std::string& c : corpora) md << " " << c << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < corpora.size(); ++i) md << "---|";
  md << "\n";
  for (const RecipeSpec& recipe : config.recipes) {
    const auto found = losses.find(recipe.name);
    if (found == losses.end()) continue;
    for (const auto& [stage, by_corpus] : found->second) {
      md << "| " << recipe.name << " | " << stage << " |";
      for (const std::string& c : corpora) {
        const auto cell = by_corpus.find(c);
        md << " " << (cell == by_corpus.end() ? "-" : mean_std(cell->second, false)) << " |";
      }
      md << "\n";
    }
  }
  md << "\n";
  return md.str();
}

}  // namespace tg
