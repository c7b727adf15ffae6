#include "experiment/scaling_report.h"

#include "experiment/report_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

namespace tg {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using report::fmt;
using report::mean_std;
std::string interval(const Interval& i, const char* f) { return "[" + fmt(i.lo, f) + ", " + fmt(i.hi, f) + "]"; }

template <class T>
std::vector<std::vector<T>> grid(size_t rows, size_t cols, T value) {
  return std::vector<std::vector<T>>(rows, std::vector<T>(cols, value));
}

size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

// Scaling runs of one cell, grouped by LR: lr -> runs.
using CellRuns = std::map<double, std::vector<const RunResult*>>;

double mean_loss(const std::vector<const RunResult*>& runs) {
  double sum = 0;
  for (const RunResult* r : runs) sum += r->final_val_loss;
  return sum / static_cast<double>(runs.size());
}

// Fills cell (b, s) from the LR whose seeds' mean loss is lowest; appends its runs to the fit set.
void fill_cell(ScalingSummary& out, size_t b, size_t s, const CellRuns& by_lr) {
  const std::vector<const RunResult*>* best = nullptr;
  double best_loss = kNaN;
  for (const auto& [lr, runs] : by_lr) {
    const double l = mean_loss(runs);
    if (std::isfinite(l) && (!best || l < best_loss)) best = &runs, best_loss = l, out.best_lr[b][s] = lr;
  }
  if (!best) return;
  out.loss[b][s] = best_loss;
  out.seeds[b][s] = static_cast<int64_t>(best->size());
  double flops = 0, tokens = 0;
  for (const RunResult* r : *best) {
    flops += r->total_flops / static_cast<double>(best->size());
    tokens += static_cast<double>(r->tokens) / static_cast<double>(best->size());
    out.fit_runs.push_back({static_cast<double>(r->n_params), static_cast<double>(r->tokens), r->total_flops,
                            r->final_val_loss});
    out.fit_budget.push_back(static_cast<int64_t>(b));
  }
  out.flops[b][s] = flops;
  out.tokens[b][s] = tokens;
  out.n_params[b][s] = static_cast<double>(best->front()->n_params);
  out.cell_runs.push_back({out.n_params[b][s], tokens, flops, best_loss});
  out.cell_budget.push_back(static_cast<int64_t>(b));
}

void fit_envelope(ScalingSummary& out) {
  for (size_t b = 0; b < out.budgets.size(); ++b) {
    std::vector<ScalingRun> at_budget;
    for (size_t s = 0; s < out.sizes.size(); ++s)
      if (std::isfinite(out.loss[b][s])) at_budget.push_back({out.n_params[b][s], out.tokens[b][s], out.flops[b][s], out.loss[b][s]});
    if (at_budget.empty()) continue;
    out.minima[b] = isoflop_minimum(at_budget);
    out.envelope.push_back({out.minima[b].flops, out.minima[b].best_loss});
  }
  std::sort(out.envelope.begin(), out.envelope.end(), [](const CurvePoint& a, const CurvePoint& c) { return a.flops < c.flops; });
  out.law = fit_power_law(out.envelope);
  const int64_t samples = out.bootstrap_samples;
  // Resampled by cell (the seeds' mean), as the envelope itself is made of cell means.
  if (out.law.ok && samples > 0) out.law_intervals = bootstrap_envelope_law(out.cell_runs, out.cell_budget, samples, 0);
  out.parametric = fit_parametric(out.fit_runs);
  if (out.parametric.ok && samples > 0) out.parametric_intervals = bootstrap_parametric(out.fit_runs, samples, 0);
}
}  // namespace

ScalingSummary summarize_scaling(const ExperimentConfig& config, const std::vector<RunResult>& results,
                                 int64_t bootstrap_samples) {
  ScalingSummary out;
  out.bootstrap_samples = bootstrap_samples;
  for (const ScalingSize& s : config.scaling.sizes) out.sizes.push_back(s.name);
  for (const ScalingBudget& b : config.scaling.budgets) out.budgets.push_back(b.name);
  const size_t nb = out.budgets.size(), ns = out.sizes.size();
  out.loss = out.best_lr = out.flops = out.n_params = out.tokens = grid(nb, ns, kNaN);
  out.seeds = grid<int64_t>(nb, ns, 0);
  out.minima.resize(nb);
  std::vector<std::vector<CellRuns>> cells = grid(nb, ns, CellRuns{});
  for (const RunResult& r : results)
    if (const ScalingPoint* point = r.plan->as<ScalingPoint>(); point && std::isfinite(r.final_val_loss))
      cells[index_of(out.budgets, point->budget_name)][index_of(out.sizes, point->size)][point->lr].push_back(&r);
  for (size_t b = 0; b < nb; ++b)
    for (size_t s = 0; s < ns; ++s) fill_cell(out, b, s, cells[b][s]);
  fit_envelope(out);
  return out;
}

void add_saved_vs_envelope(const ScalingSummary& summary, std::vector<RunResult>& results) {
  if (summary.envelope.empty()) return;
  for (RunResult& r : results) {
    if (r.plan->kind() != RunKind::Recipe || !std::isfinite(r.final_val_loss)) continue;
    const FrontierFlops needed = frontier_flops_for_loss(summary.envelope, r.final_val_loss);
    r.saved_vs_envelope = 1.0 - r.total_flops / needed.flops;
    r.envelope_extrapolated = needed.extrapolated;
    r.saved_vs_law = 1.0 - r.total_flops / power_law_flops_for_loss(summary.law, r.final_val_loss);
    if (summary.law.ok) r.envelope_loss_at_flops = power_law_loss(summary.law, r.total_flops);
  }
}

namespace {
void isoflop_table(std::ostringstream& md, const ScalingSummary& s) {
  md << "## Scaling sweep: IsoFLOP table\n\nFinal validation loss of each size trained from scratch with its own "
        "complete schedule over exactly the budget (best of its LRs, mean over seeds); **bold**: the budget's "
        "best size. `N_opt (parabola)`: the vertex of a parabola in ln N through the best size and its "
        "neighbours (Chinchilla approach 2); `edge`: the best size is the sweep's smallest or largest, so the "
        "optimum may lie outside it.\n\n| budget | FLOPs |";
  for (size_t j = 0; j < s.sizes.size(); ++j) {
    double n = kNaN;
    for (size_t b = 0; b < s.budgets.size() && !std::isfinite(n); ++b) n = s.n_params[b][j];
    md << " " << s.sizes[j] << " (" << fmt(n, "%.3g") << ") |";
  }
  md << " best size | N_opt (parabola) | loss at N_opt |\n|---|---|";
  for (size_t j = 0; j < s.sizes.size(); ++j) md << "---|";
  md << "---|---|---|\n";
  for (size_t b = 0; b < s.budgets.size(); ++b) {
    const IsoFlopMinimum& m = s.minima[b];
    md << "| " << s.budgets[b] << " | " << (m.flops > 0 ? fmt(m.flops, "%.3g") : "n/a") << " |";
    std::string best_size = "n/a";
    for (size_t j = 0; j < s.sizes.size(); ++j) {
      const bool best = std::isfinite(s.loss[b][j]) && s.n_params[b][j] == m.best_params && s.loss[b][j] == m.best_loss;
      if (best) best_size = s.sizes[j];
      md << " " << (best ? "**" + fmt(s.loss[b][j]) + "**" : fmt(s.loss[b][j])) << " |";
    }
    md << " " << best_size << (m.at_edge ? " (edge)" : "") << " | " << fmt(m.fit_params, "%.3g") << " | "
       << fmt(m.fit_loss) << " |\n";
  }
  md << "\n";
}

void laws(std::ostringstream& md, const ScalingSummary& s) {
  md << "## Envelope and fitted laws\n\n";
  if (s.bootstrap_samples > 0)
    md << "Intervals: 2.5-97.5 percentiles over " << s.bootstrap_samples
       << " bootstrap resamples (of the IsoFLOP cells for the envelope law, each a mean over seeds; of the runs for "
          "the parametric law), each refitted.\n\n";
  else
    md << "Intervals (n/a here) are computed when the experiment finishes.\n\n";
  if (s.law.ok)
    md << "- Envelope law L(C) = E + A C^-alpha over " << s.envelope.size() << " budgets: E = " << fmt(s.law.E)
       << (s.law.E_at_bound ? " (at its bound: the least-squares floor was negative, so a pure power law)" : "") << " "
       << interval(s.law_intervals.E, "%.4f") << ", A = " << fmt(s.law.A, "%.4g") << " "
       << interval(s.law_intervals.A, "%.3g") << ", alpha = " << fmt(s.law.alpha) << " "
       << interval(s.law_intervals.alpha, "%.4f") << "; rms residual " << fmt(s.law.rmse, "%.2g") << ".\n";
  else
    md << "- Envelope law: not fitted (" << s.envelope.size() << " budgets with results; it needs 3).\n";
  const ParametricFit& p = s.parametric;
  const ParametricIntervals& pi = s.parametric_intervals;
  if (p.ok)
    md << "- Parametric law L(N, D) = E + A/N^a + B/D^b over " << s.fit_runs.size() << " runs (Huber on log loss): E = "
       << fmt(p.E) << " " << interval(pi.E, "%.4f") << ", A = " << fmt(p.A, "%.4g") << " " << interval(pi.A, "%.3g")
       << ", a = " << fmt(p.a, "%.3f") << " " << interval(pi.a, "%.3f") << ", B = " << fmt(p.B, "%.4g") << " "
       << interval(pi.B, "%.3g") << ", b = " << fmt(p.b, "%.3f") << " " << interval(pi.b, "%.3f")
       << "; compute-optimal N grows as C^(b/(a+b)) = C^" << fmt(p.b / (p.a + p.b), "%.2f") << ".\n";
  else
    md << "- Parametric law: not fitted (" << s.fit_runs.size()
       << " runs; it needs at least 5, with at least 3 distinct sizes and 3 distinct token counts).\n";
  md << "\n";
}

struct RecipeFigures {
  std::vector<double> loss, flops, saved_env, saved_law, law_loss;
  bool extrapolated = false;
};

std::map<std::string, RecipeFigures> recipe_figures(const std::vector<RunResult>& results) {
  std::map<std::string, RecipeFigures> by_recipe;
  for (const RunResult& r : results) {
    const RecipeRun* of = r.plan->as<RecipeRun>();
    if (!of) continue;
    RecipeFigures& f = by_recipe[of->recipe];
    f.loss.push_back(r.final_val_loss);
    f.flops.push_back(r.total_flops);
    f.saved_env.push_back(r.saved_vs_envelope);
    f.saved_law.push_back(r.saved_vs_law);
    f.law_loss.push_back(r.envelope_loss_at_flops);
    f.extrapolated |= r.envelope_extrapolated;
  }
  return by_recipe;
}

void growth_vs_envelope(std::ostringstream& md, const ExperimentConfig& config, const std::vector<RunResult>& results) {
  md << "## Growth against the envelope (the best scratch model of any size)\n\n"
        "`saved vs envelope`: 1 - grown FLOPs / FLOPs the envelope needs for the grown final loss (interpolated "
        "in log FLOPs between budgets); `vs law`: the same by the fitted L(C); positive: growth reached its loss "
        "with less compute than the compute-optimal scratch model. Every stage counted. Mean ± std over seeds.\n\n"
        "| recipe | seeds | FLOPs | final val loss | law's loss at these FLOPs | saved vs envelope | saved vs law |\n"
        "|---|---|---|---|---|---|---|\n";
  const auto figures = recipe_figures(results);
  for (const RecipeSpec& recipe : config.recipes) {
    const auto it = figures.find(recipe.name);
    if (it == figures.end()) continue;
    const RecipeFigures& f = it->second;
    md << "| " << recipe.name << (f.extrapolated ? " (envelope extrapolated)" : "") << " | " << f.loss.size() << " | "
       << fmt(mean_spread(f.flops).mean, "%.3g") << " | " << mean_std(f.loss, false) << " | "
       << fmt(mean_spread(f.law_loss).mean) << " | " << mean_std(f.saved_env, true) << " | "
       << mean_std(f.saved_law, true) << " |\n";
  }
  md << "\n";
}

// Per timing sweep: the grow_at with the lowest mean loss; a tie when the runner-up is
// within the larger of the two seed spreads.
void best_timing(std::ostringstream& md, const ExperimentConfig& config, const std::vector<RunResult>& results) {
  const auto figures = recipe_figures(results);
  std::map<std::string, std::vector<const RecipeSpec*>> families;
  for (const RecipeSpec& r : config.recipes)
    if (r.grow_at > 0 && figures.count(r.name)) families[r.family].push_back(&r);
  if (families.empty()) return;
  md << "## When to grow (timing sweeps)\n\n`grow_at`: the fraction of the recipe's FLOPs spent before growing. A "
        "difference smaller than the seed spread is a tie.\n\n| family | FLOPs | best grow_at | its loss | runner-up | "
        "verdict |\n|---|---|---|---|---|---|\n";
  for (const auto& [family, recipes] : families) {
    std::vector<std::pair<double, const RecipeSpec*>> ranked;
    for (const RecipeSpec* r : recipes) {
      const MeanSpread m = mean_spread(figures.at(r->name).loss);
      if (m.n > 0 && std::isfinite(m.mean)) ranked.emplace_back(m.mean, r);
    }
    if (ranked.empty()) continue;
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const RecipeFigures& best = figures.at(ranked[0].second->name);
    md << "| " << family << " | " << fmt(mean_spread(best.flops).mean, "%.3g") << " | " << fmt(ranked[0].second->grow_at, "%g")
       << " | " << mean_std(best.loss, false) << " | ";
    if (ranked.size() < 2) {
      md << "n/a | one timing |\n";
      continue;
    }
    const RecipeFigures& second = figures.at(ranked[1].second->name);
    const double spread = std::max(mean_spread(best.loss).std, mean_spread(second.loss).std);
    const bool tie = ranked[1].first - ranked[0].first < spread || mean_spread(best.loss).n < 2;
    md << fmt(ranked[1].second->grow_at, "%g") << ": " << mean_std(second.loss, false) << " | "
       << (mean_spread(best.loss).n < 2 ? "one seed: no spread to judge by" : tie ? "tie" : "best") << " |\n";
  }
  md << "\n";
}
}  // namespace

std::string scaling_markdown(const ExperimentConfig& config, const ScalingSummary& summary,
                             const std::vector<RunResult>& results) {
  std::ostringstream md;
  best_timing(md, config, results);
  if (summary.sizes.empty()) return md.str();
  isoflop_table(md, summary);
  laws(md, summary);
  growth_vs_envelope(md, config, results);
  return md.str();
}

std::string isoflop_csv(const ScalingSummary& s) {
  std::ostringstream csv;
  csv << "budget,size,n_params,tokens,tokens_per_param,flops,best_lr,seeds,loss,is_minimum\n";
  for (size_t b = 0; b < s.budgets.size(); ++b)
    for (size_t j = 0; j < s.sizes.size(); ++j) {
      if (!std::isfinite(s.loss[b][j])) continue;
      const bool best = s.n_params[b][j] == s.minima[b].best_params && s.loss[b][j] == s.minima[b].best_loss;
      csv << s.budgets[b] << "," << s.sizes[j] << "," << s.n_params[b][j] << "," << s.tokens[b][j] << ","
          << s.tokens[b][j] / s.n_params[b][j] << "," << s.flops[b][j] << "," << s.best_lr[b][j] << "," << s.seeds[b][j]
          << "," << s.loss[b][j] << "," << (best ? 1 : 0) << "\n";
    }
  return csv.str();
}

void write_scaling_h5(H5File& file, const ScalingSummary& s) {
  if (s.sizes.empty()) return;
  std::vector<double> flops, loss, params, tokens, budget, size;
  for (size_t b = 0; b < s.budgets.size(); ++b)
    for (size_t j = 0; j < s.sizes.size(); ++j) {
      if (!std::isfinite(s.loss[b][j])) continue;
      budget.push_back(static_cast<double>(b));
      size.push_back(static_cast<double>(j));
      flops.push_back(s.flops[b][j]);
      loss.push_back(s.loss[b][j]);
      params.push_back(s.n_params[b][j]);
      tokens.push_back(s.tokens[b][j]);
    }
  for (const auto& [name, values] : std::vector<std::pair<const char*, const std::vector<double>*>>{
           {"budget_index", &budget}, {"size_index", &size}, {"flops", &flops}, {"loss", &loss},
           {"n_params", &params}, {"tokens", &tokens}})
    file.write_doubles(std::string("scaling/isoflop/") + name, *values);
  std::vector<double> env_flops, env_loss;
  for (const CurvePoint& p : s.envelope) env_flops.push_back(p.flops), env_loss.push_back(p.loss);
  file.write_doubles("scaling/envelope/flops", env_flops);
  file.write_doubles("scaling/envelope/loss", env_loss);
  const std::pair<const char*, double> attrs[] = {
      {"law_E", s.law.E}, {"law_A", s.law.A}, {"law_alpha", s.law.alpha}, {"law_E_lo", s.law_intervals.E.lo},
      {"law_E_hi", s.law_intervals.E.hi}, {"law_A_lo", s.law_intervals.A.lo}, {"law_A_hi", s.law_intervals.A.hi},
      {"law_alpha_lo", s.law_intervals.alpha.lo}, {"law_alpha_hi", s.law_intervals.alpha.hi},
      {"law_ok", s.law.ok ? 1.0 : 0.0}, {"law_E_at_bound", s.law.E_at_bound ? 1.0 : 0.0}, {"parametric_E", s.parametric.E}, {"parametric_A", s.parametric.A},
      {"parametric_B", s.parametric.B}, {"parametric_a", s.parametric.a}, {"parametric_b", s.parametric.b}};
  for (const auto& [name, value] : attrs) file.set_attr("scaling", name, value);
  file.set_attr("scaling", "budgets", nlohmann::json(s.budgets).dump());
  file.set_attr("scaling", "sizes", nlohmann::json(s.sizes).dump());
}

}  // namespace tg
