// The scaling report's arithmetic on synthetic finished runs with known answers: the
// IsoFLOP cells keep the best LR, the envelope is the best size per budget, and compute
// saved against the envelope (interpolated and by the law) is what the formulas give.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <deque>

#include "experiment/scaling_report.h"

using namespace tg;

namespace {

// Runs and their plans, kept at stable addresses (RunResult points at its plan).
struct SyntheticRuns {
  std::deque<PlannedRun> plans;
  std::vector<RunResult> results;

  void add_scaling(const std::string& size, const std::string& budget, double lr, double n_params, double flops,
                   double loss) {
    PlannedRun& p = plans.emplace_back();
    p.name = "scaling-" + size + "-" + budget + "-lr" + std::to_string(lr);
    p.payload = ScalingPoint{size, budget, lr};
    add_result(p, n_params, flops, loss);
  }
  void add_recipe(const std::string& recipe, uint64_t seed, double flops, double loss) {
    PlannedRun& p = plans.emplace_back();
    p.name = recipe + "-seed" + std::to_string(seed);
    p.payload = RecipeRun{recipe};
    p.seed = seed;
    add_result(p, 1e6, flops, loss);
  }
  void add_result(const PlannedRun& p, double n_params, double flops, double loss) {
    RunResult r;
    r.plan = &p;
    r.n_params = static_cast<int64_t>(n_params);
    r.total_flops = flops;
    r.tokens = static_cast<int64_t>(flops / (6 * n_params));
    r.final_val_loss = loss;
    results.push_back(r);
  }
};

// The law the envelope follows: L(C) = 1.5 + 30 C^-0.1.
double law(double c) { return 1.5 + 30.0 * std::pow(c, -0.1); }

ExperimentConfig config_of(const std::vector<std::string>& sizes, const std::vector<std::string>& budgets) {
  ExperimentConfig c;
  for (const auto& s : sizes) c.scaling.sizes.push_back({s, nlohmann::json::object(), {}});
  for (const auto& b : budgets) c.scaling.budgets.push_back({0, 0, b});
  return c;
}

}  // namespace

TEST_CASE("The envelope is each budget's best size at its best LR, and compute saved against it is exact",
          "[scaling][report]") {
  ExperimentConfig config = config_of({"small", "mid", "big"}, {"1e12", "1e13", "1e14"});
  for (const char* name : {"grown", "beyond"}) config.recipes.push_back({name, {}, name, 0});
  SyntheticRuns runs;
  const double budgets[] = {1e12, 1e13, 1e14};
  const char* names[] = {"1e12", "1e13", "1e14"};
  for (int b = 0; b < 3; ++b) {
    const double best = law(budgets[b]);
    // The best size changes with the budget (small, mid, big); the others are worse.
    const int best_size = b;
    const char* sizes[] = {"small", "mid", "big"};
    const double params[] = {1e5, 1e6, 1e7};
    for (int s = 0; s < 3; ++s) {
      const double loss = best + 0.1 * std::abs(s - best_size);
      runs.add_scaling(sizes[s], names[b], 1e-3, params[s], budgets[b], loss);
      runs.add_scaling(sizes[s], names[b], 3e-3, params[s], budgets[b], loss + 0.05);  // the worse LR
    }
  }
  // Grown runs: reaching the envelope's loss at 1e13 with 3e12 FLOPs saves 70%; one
  // run below every budget's loss is outside the envelope and flagged.
  runs.add_recipe("grown", 0, 3e12, law(1e13));
  runs.add_recipe("grown", 1, 2e12, law(1e13));
  runs.add_recipe("beyond", 0, 1e14, law(1e15));

  const ScalingSummary summary = summarize_scaling(config, runs.results, 0);
  REQUIRE(summary.envelope.size() == 3);
  for (int b = 0; b < 3; ++b) {
    REQUIRE(summary.envelope[b].flops == budgets[b]);
    REQUIRE(summary.envelope[b].loss == Approx(law(budgets[b])).epsilon(1e-12));
    for (int s = 0; s < 3; ++s) {
      REQUIRE(summary.best_lr[b][s] == 1e-3);
      REQUIRE(summary.loss[b][s] == Approx(law(budgets[b]) + 0.1 * std::abs(s - b)).epsilon(1e-12));
    }
  }
  REQUIRE(summary.fit_runs.size() == 9);  // the best LR of each cell only
  REQUIRE(summary.law.ok);
  REQUIRE(summary.law.E == Approx(1.5).epsilon(1e-5));
  REQUIRE(summary.law.alpha == Approx(0.1).epsilon(1e-5));

  std::vector<RunResult> results = runs.results;
  add_saved_vs_envelope(summary, results);
  const RunResult& grown0 = results[results.size() - 3];
  const RunResult& grown1 = results[results.size() - 2];
  const RunResult& beyond = results.back();
  REQUIRE(grown0.saved_vs_envelope == Approx(1.0 - 3e12 / 1e13).epsilon(1e-9));
  REQUIRE(grown1.saved_vs_envelope == Approx(1.0 - 2e12 / 1e13).epsilon(1e-9));
  REQUIRE_FALSE(grown0.envelope_extrapolated);
  // By the law: F_law(L(1e13)) = 1e13 exactly.
  REQUIRE(grown0.saved_vs_law == Approx(0.7).epsilon(1e-4));
  REQUIRE(grown0.envelope_loss_at_flops == Approx(law(3e12)).epsilon(1e-5));
  REQUIRE(beyond.envelope_extrapolated);
  REQUIRE(beyond.saved_vs_law == Approx(1.0 - 1e14 / 1e15).epsilon(1e-3));
  // Scratch runs get no envelope figures.
  REQUIRE(std::isnan(results.front().saved_vs_envelope));

  const std::string md = scaling_markdown(config, summary, results);
  INFO(md);
  // The 1e13 row: small, then mid in bold (the budget's best), then big.
  char row[200];
  std::snprintf(row, sizeof row, "| 1e13 | 1e+13 | %.4f | **%.4f** | %.4f | mid |", law(1e13) + 0.1, law(1e13),
                law(1e13) + 0.1);
  REQUIRE(md.find(row) != std::string::npos);
  REQUIRE(md.find("| grown | 2 |") != std::string::npos);
  REQUIRE(md.find("+75.0% ± 7.1") != std::string::npos);  // mean of 70% and 80%, std 7.07
  REQUIRE(md.find("beyond (envelope extrapolated)") != std::string::npos);
}

TEST_CASE("The timing verdict calls a difference smaller than the seed spread a tie", "[scaling][report]") {
  ExperimentConfig config = config_of({}, {});
  for (double f : {0.25, 0.5}) {
    RecipeSpec r;
    r.name = "g-at" + std::string(f == 0.25 ? "0.25" : "0.5");
    r.family = "g";
    r.grow_at = f;
    config.recipes.push_back(r);
  }
  SyntheticRuns runs;
  runs.add_recipe("g-at0.25", 0, 1e12, 2.00);
  runs.add_recipe("g-at0.25", 1, 1e12, 2.10);  // spread 0.071
  runs.add_recipe("g-at0.5", 0, 1e12, 2.06);
  runs.add_recipe("g-at0.5", 1, 1e12, 2.08);
  const ScalingSummary none = summarize_scaling(config, runs.results, 0);
  std::string md = scaling_markdown(config, none, runs.results);
  INFO(md);
  REQUIRE(md.find("| g | 1e+12 | 0.25 | 2.0500 ± 0.0707 | 0.5: 2.0700 ± 0.0141 | tie |") != std::string::npos);

  runs.results[1].final_val_loss = 2.01;  // now 2.005 ± 0.007 against 2.07 ± 0.014
  md = scaling_markdown(config, none, runs.results);
  REQUIRE(md.find("| g | 1e+12 | 0.25 | 2.0050 ± 0.0071 | 0.5: 2.0700 ± 0.0141 | best |") != std::string::npos);
}
