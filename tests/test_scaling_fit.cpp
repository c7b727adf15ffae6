// Scaling-law fits on synthetic runs drawn from known laws.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>

#include "experiment/scaling_fit.h"
#include "sanitized_sizes.h"

using namespace tg;

namespace {

// Deterministic +-0.2% noise, alternating in sign with the point's index.
double noisy(double loss, size_t i) { return loss * (1.0 + ((i % 2 == 0) ? 0.002 : -0.002)); }

// L(C) = 1.2 + 40 C^-0.15.
double envelope_truth(double c) { return 1.2 + 40.0 * std::pow(c, -0.15); }

// 17 budgets, four per decade from 1e11 to 1e15.
std::vector<double> budgets() {
  std::vector<double> c;
  for (int i = 0; i <= 16; ++i) c.push_back(1e11 * std::pow(10.0, i / 4.0));
  return c;
}

std::vector<CurvePoint> law_points(double noise_scale) {
  std::vector<CurvePoint> points;
  const std::vector<double> c = budgets();
  for (size_t i = 0; i < c.size(); ++i) {
    const double l = envelope_truth(c[i]);
    points.push_back({c[i], l + noise_scale * (noisy(l, i) - l)});
  }
  return points;
}

// Chinchilla's fitted law (Hoffmann et al. 2022): L = 1.69 + 406.4 / N^0.34 + 410.7 / D^0.28.
double chinchilla(double n, double d) { return 1.69 + 406.4 * std::pow(n, -0.34) + 410.7 * std::pow(d, -0.28); }

// N in 1e5..1e7 (5 sizes), D in 1e6..1e9 (7 lengths), C = 6 N D.
std::vector<ScalingRun> chinchilla_runs(double noise_scale) {
  std::vector<ScalingRun> runs;
  for (int i = 0; i <= 4; ++i)
    for (int j = 0; j <= 6; ++j) {
      const double n = std::pow(10.0, 5 + i / 2.0), d = std::pow(10.0, 6 + j / 2.0);
      const double l = chinchilla(n, d);
      runs.push_back({n, d, 6 * n * d, l + noise_scale * (noisy(l, runs.size()) - l)});
    }
  return runs;
}

double relative_error(double got, double want) { return std::abs(got - want) / std::abs(want); }

bool contains(const Interval& i, double v) { return i.lo <= v && v <= i.hi; }

}  // namespace

TEST_CASE("The envelope power law is recovered from its points", "[scaling]") {
  const PowerLawFit exact = fit_power_law(law_points(0.0));
  REQUIRE(exact.ok);
  REQUIRE(relative_error(exact.E, 1.2) < 1e-6);
  REQUIRE(relative_error(exact.A, 40.0) < 1e-6);
  REQUIRE(relative_error(exact.alpha, 0.15) < 1e-6);
  REQUIRE(exact.rmse < 1e-9);

  // +-0.2% noise: the fit is the least-squares law (no worse than the truth), E and
  // alpha within 2%. A in raw units is A_ref C_ref^alpha with ln C_ref = 30: an error
  // d alpha moves ln A by 30 d alpha, so A is held to 5% and the amplitude at C_ref,
  // which the data pin down, to 2%.
  const std::vector<CurvePoint> points = law_points(1.0);
  const PowerLawFit noisy_fit = fit_power_law(points);
  REQUIRE(noisy_fit.ok);
  double truth_ss = 0;
  for (const CurvePoint& p : points) truth_ss += std::pow(envelope_truth(p.flops) - p.loss, 2);
  REQUIRE(noisy_fit.rmse <= std::sqrt(truth_ss / points.size()));
  REQUIRE(relative_error(noisy_fit.E, 1.2) < 0.02);
  REQUIRE(relative_error(noisy_fit.alpha, 0.15) < 0.02);
  REQUIRE(relative_error(noisy_fit.A, 40.0) < 0.05);
  REQUIRE(relative_error(noisy_fit.A * std::pow(1e13, -noisy_fit.alpha), 40.0 * std::pow(1e13, -0.15)) < 0.02);
  // The residuals are the noise: about 0.2% of losses between 1.4 and 2.1.
  REQUIRE(noisy_fit.rmse > 0.001);
  REQUIRE(noisy_fit.rmse < 0.005);
}

TEST_CASE("An envelope whose least-squares floor is negative is fitted as a pure power law, flagged", "[scaling]") {
  // L = -0.5 + 5 C^-0.05: least squares would give E = -0.5, a floor below any loss.
  std::vector<CurvePoint> points;
  for (double c = 1e11; c <= 1e15; c *= 3) points.push_back({c, -0.5 + 5.0 * std::pow(c, -0.05)});
  const PowerLawFit fit = fit_power_law(points);
  REQUIRE(fit.ok);
  REQUIRE(fit.E_at_bound);
  REQUIRE(fit.E == 0);
  // The pure power law through these points: ln L linear in ln C by least squares,
  // checked against the two-point slope of the end points (the data are nearly
  // straight in log-log), and close to every point.
  const double slope = std::log(points.back().loss / points.front().loss) /
                       std::log(points.back().flops / points.front().flops);
  REQUIRE(fit.alpha == Approx(-slope).epsilon(0.1));
  for (const CurvePoint& p : points) REQUIRE(power_law_loss(fit, p.flops) == Approx(p.loss).epsilon(0.03));
  // A law with a positive floor is not touched.
  REQUIRE_FALSE(fit_power_law(law_points(0.0)).E_at_bound);
}

TEST_CASE("The envelope power law refuses too few points and bad values", "[scaling]") {
  std::vector<CurvePoint> two = law_points(0.0);
  two.resize(2);
  REQUIRE_FALSE(fit_power_law(two).ok);
  // Three points at only two distinct budgets.
  two.push_back(two[1]);
  REQUIRE_FALSE(fit_power_law(two).ok);
  // Loss rising with compute: no decreasing law.
  std::vector<CurvePoint> rising;
  for (double c : budgets()) rising.push_back({c, 3.0 - 40.0 * std::pow(c, -0.15)});
  REQUIRE_FALSE(fit_power_law(rising).ok);
  REQUIRE_THROWS_AS(fit_power_law({{1e12, 2.0}, {0.0, 1.9}, {1e14, 1.8}}), std::invalid_argument);
  REQUIRE_THROWS_AS(fit_power_law({{1e12, 2.0}, {1e13, std::nan("")}, {1e14, 1.8}}), std::invalid_argument);
}

TEST_CASE("FLOPs for a loss invert the power law", "[scaling]") {
  PowerLawFit f;
  f.E = 1.2;
  f.A = 40.0;
  f.alpha = 0.15;
  f.ok = true;
  for (double c : {1e9, 3e12, 1e15, 7e18}) {
    REQUIRE(power_law_loss(f, c) == Approx(envelope_truth(c)).epsilon(1e-12));
    REQUIRE(power_law_flops_for_loss(f, power_law_loss(f, c)) == Approx(c).epsilon(1e-9));
  }
  REQUIRE(std::isnan(power_law_flops_for_loss(f, 1.2)));
  REQUIRE(std::isnan(power_law_flops_for_loss(f, 1.0)));
  f.ok = false;
  REQUIRE(std::isnan(power_law_flops_for_loss(f, 2.0)));
}

TEST_CASE("The IsoFLOP minimum is the vertex of the parabola in ln N", "[scaling]") {
  // Loss = 3 + 0.5 (ln N - ln 3e6)^2 at one budget.
  const double n_star = 3e6;
  auto run_at = [&](double n) {
    const double x = std::log(n / n_star);
    return ScalingRun{n, 1e12 / (6 * n), 1e12 * (1 + 1e-3 * x), 3.0 + 0.5 * x * x};
  };
  // Sizes 1e6 * 2^k, k = 0..6, given out of order.
  std::vector<ScalingRun> sweep;
  for (int k : {5, 0, 3, 6, 1, 4, 2}) sweep.push_back(run_at(1e6 * std::pow(2.0, k)));
  const IsoFlopMinimum inside = isoflop_minimum(sweep);
  REQUIRE(inside.best_params == 4e6);
  REQUIRE(inside.best_loss == run_at(4e6).loss);
  REQUIRE_FALSE(inside.at_edge);
  REQUIRE(relative_error(inside.fit_params, n_star) < 1e-6);
  REQUIRE(inside.fit_loss == Approx(3.0).epsilon(1e-9));
  double mean_flops = 0;
  for (const ScalingRun& r : sweep) mean_flops += r.flops / 7;
  REQUIRE(inside.flops == Approx(mean_flops).epsilon(1e-12));

  // A sweep that starts above the optimum: the best is its smallest size.
  std::vector<ScalingRun> above;
  for (int k : {2, 3, 4, 5}) above.push_back(run_at(1e6 * std::pow(2.0, k)));
  const IsoFlopMinimum edge = isoflop_minimum(above);
  REQUIRE(edge.at_edge);
  REQUIRE(edge.best_params == 4e6);
  REQUIRE(relative_error(edge.fit_params, n_star) < 1e-6);  // extrapolated by the exact parabola

  // Two points: no parabola.
  const IsoFlopMinimum two = isoflop_minimum({run_at(2e6), run_at(4e6)});
  REQUIRE(std::isnan(two.fit_params));
  REQUIRE(std::isnan(two.fit_loss));
  REQUIRE(two.best_params == 4e6);
  // A concave curve (c2 < 0): no vertex.
  std::vector<ScalingRun> concave = sweep;
  for (ScalingRun& r : concave) r.loss = 10.0 - r.loss;
  REQUIRE(std::isnan(isoflop_minimum(concave).fit_params));
  REQUIRE_THROWS_AS(isoflop_minimum({}), std::invalid_argument);
  REQUIRE_THROWS_AS(isoflop_minimum({ScalingRun{-1, 1, 1, 1}}), std::invalid_argument);
}

TEST_CASE("The parametric law is recovered from a grid of runs", "[scaling]") {
  const ParametricFit exact = fit_parametric(chinchilla_runs(0.0));
  REQUIRE(exact.ok);
  REQUIRE(relative_error(exact.E, 1.69) < 1e-4);
  REQUIRE(relative_error(exact.A, 406.4) < 1e-4);
  REQUIRE(relative_error(exact.B, 410.7) < 1e-4);
  REQUIRE(relative_error(exact.a, 0.34) < 1e-4);
  REQUIRE(relative_error(exact.b, 0.28) < 1e-4);
  REQUIRE(exact.objective < 1e-12);
  REQUIRE(parametric_loss(exact, 3e6, 1e8) == Approx(chinchilla(3e6, 1e8)).epsilon(1e-6));

  // +-0.2% noise: the fit's objective is no worse than the truth's, a and b within 2%.
  // Over two decades of N, E trades off against A / N^a (and B / D^b), so E, A and B
  // are held to 10% (measured: E 3.8%, A 5.5%, B 1.7%, a 1.5%, b 0.5%).
  const std::vector<ScalingRun> noisy_runs = chinchilla_runs(1.0);
  const ParametricFit fit = fit_parametric(noisy_runs);
  REQUIRE(fit.ok);
  ParametricFit truth;
  truth.E = 1.69, truth.A = 406.4, truth.B = 410.7, truth.a = 0.34, truth.b = 0.28, truth.ok = true;
  REQUIRE(fit.objective == Approx(parametric_objective(fit, noisy_runs)).epsilon(1e-12));
  REQUIRE(fit.objective <= parametric_objective(truth, noisy_runs));
  REQUIRE(relative_error(fit.a, 0.34) < 0.02);
  REQUIRE(relative_error(fit.b, 0.28) < 0.02);
  REQUIRE(relative_error(fit.E, 1.69) < 0.1);
  REQUIRE(relative_error(fit.A, 406.4) < 0.1);
  REQUIRE(relative_error(fit.B, 410.7) < 0.1);

  std::vector<ScalingRun> four = chinchilla_runs(0.0);
  four.resize(4);
  REQUIRE_FALSE(fit_parametric(four).ok);
  // Many runs but only two distinct sizes: a and A cannot be told from E.
  std::vector<ScalingRun> two_sizes;
  for (const ScalingRun& r : chinchilla_runs(0.0))
    if (r.n_params < 1e6) two_sizes.push_back(r);
  REQUIRE(two_sizes.size() == 14);
  REQUIRE_FALSE(fit_parametric(two_sizes).ok);
}

TEST_CASE("The compute-optimal split minimises the law at fixed FLOPs", "[scaling]") {
  ParametricFit f;
  f.E = 1.69;
  f.A = 406.4;
  f.B = 410.7;
  f.a = 0.34;
  f.b = 0.28;
  f.ok = true;
  const double c = 1e20;
  const ComputeOptimal opt = parametric_compute_optimal(f, c);
  REQUIRE(6 * opt.n_params * opt.tokens == Approx(c).epsilon(1e-12));
  REQUIRE(opt.loss == Approx(parametric_loss(f, opt.n_params, opt.tokens)));
  // A scan over N at fixed C = 6 N D (steps of 0.1% in N) finds its minimum at N_opt.
  double best_n = 0, best_loss = 1e300;
  for (int i = -3000; i <= 3000; ++i) {
    const double n = opt.n_params * std::exp(1e-3 * i);
    const double l = parametric_loss(f, n, c / (6 * n));
    if (l < best_loss) best_loss = l, best_n = n;
  }
  REQUIRE(relative_error(best_n, opt.n_params) < 1.5e-3);
  // The sweep's own FLOPs per parameter-token.
  REQUIRE(flops_per_param_token(chinchilla_runs(0.0)) == Approx(6.0).epsilon(1e-12));
  const ComputeOptimal eight = parametric_compute_optimal(f, c, 8.0);
  REQUIRE(8 * eight.n_params * eight.tokens == Approx(c).epsilon(1e-12));
  f.ok = false;
  REQUIRE(std::isnan(parametric_compute_optimal(f, c).n_params));
}

TEST_CASE("Percentile intervals interpolate between order statistics", "[scaling]") {
  // 0, 1, .., 100 shuffled: the 2.5th percentile is at position 2.5, the 97.5th at 97.5.
  std::vector<double> values;
  for (int i = 0; i <= 100; ++i) values.push_back((i * 37) % 101);
  const Interval i = percentile_interval(values);
  REQUIRE(i.lo == Approx(2.5));
  REQUIRE(i.hi == Approx(97.5));
  const Interval one = percentile_interval({4.0});
  REQUIRE(one.lo == 4.0);
  REQUIRE(one.hi == 4.0);
  REQUIRE(std::isnan(percentile_interval({}).lo));
}

TEST_CASE("Bootstrap intervals of the envelope law", "[scaling]") {
  // Per budget: the best size near the law (with noise) and two worse sizes.
  std::vector<ScalingRun> runs;
  std::vector<int64_t> budget;
  const std::vector<double> c = budgets();
  for (size_t j = 0; j < c.size(); ++j)
    for (double worse : {0.0, 0.005, 0.02}) {
      const double l = worse == 0.0 ? noisy(envelope_truth(c[j]), j) : envelope_truth(c[j]) * (1 + worse);
      runs.push_back({1e6, c[j] / 6e6, c[j], l});
      budget.push_back(static_cast<int64_t>(j));
    }
  // The envelope is the noisy law.
  const std::vector<CurvePoint> env = envelope(runs, budget);
  REQUIRE(env.size() == c.size());
  for (size_t j = 0; j < c.size(); ++j) REQUIRE(env[j].loss == noisy(envelope_truth(c[j]), j));

  const PowerLawIntervals ci = bootstrap_envelope_law(runs, budget, 200, 7);
  REQUIRE(ci.samples == 200);
  REQUIRE(contains(ci.E, 1.2));
  REQUIRE(contains(ci.A, 40.0));
  REQUIRE(contains(ci.alpha, 0.15));
  REQUIRE(ci.alpha.hi - ci.alpha.lo > 1e-4);
  const PowerLawIntervals again = bootstrap_envelope_law(runs, budget, 200, 7);
  REQUIRE(again.alpha.lo == ci.alpha.lo);
  REQUIRE(again.alpha.hi == ci.alpha.hi);
  REQUIRE(again.E.lo == ci.E.lo);
  const PowerLawIntervals other = bootstrap_envelope_law(runs, budget, 200, 8);
  REQUIRE(other.alpha.lo != ci.alpha.lo);

  // One exact run per budget: every resample fits the same law.
  std::vector<ScalingRun> exact;
  std::vector<int64_t> exact_budget;
  for (size_t j = 0; j < c.size(); ++j) {
    exact.push_back({1e6, c[j] / 6e6, c[j], envelope_truth(c[j])});
    exact_budget.push_back(static_cast<int64_t>(j));
  }
  const PowerLawIntervals point = bootstrap_envelope_law(exact, exact_budget, 50, 1);
  REQUIRE(point.samples == 50);
  REQUIRE(relative_error(point.alpha.lo, 0.15) < 1e-6);
  REQUIRE(relative_error(point.alpha.hi, 0.15) < 1e-6);
  REQUIRE(relative_error(point.E.lo, 1.2) < 1e-6);
  REQUIRE(relative_error(point.E.hi, 1.2) < 1e-6);

  REQUIRE_THROWS_AS(bootstrap_envelope_law(runs, {0, 1}, 10, 1), std::invalid_argument);
  REQUIRE_THROWS_AS(bootstrap_envelope_law(runs, budget, 0, 1), std::invalid_argument);
}

TEST_CASE("Bootstrap intervals of the parametric law", "[scaling]") {
  const std::vector<ScalingRun> runs = chinchilla_runs(1.0);
  const int64_t resamples = testing::release_or_sanitized<int64_t>(100, 25);
  const ParametricIntervals ci = bootstrap_parametric(runs, resamples, 3);
  REQUIRE(ci.samples >= resamples * 95 / 100);  // at least 95% of the fits converge
  REQUIRE(contains(ci.E, 1.69));
  REQUIRE(contains(ci.A, 406.4));
  REQUIRE(contains(ci.B, 410.7));
  REQUIRE(contains(ci.a, 0.34));
  REQUIRE(contains(ci.b, 0.28));
  REQUIRE(ci.a.hi - ci.a.lo > 1e-4);
  const ParametricIntervals again = bootstrap_parametric(runs, resamples, 3);
  REQUIRE(again.a.lo == ci.a.lo);
  REQUIRE(again.b.hi == ci.b.hi);

  const int64_t point_resamples = testing::release_or_sanitized<int64_t>(30, 10);
  const ParametricIntervals point = bootstrap_parametric(chinchilla_runs(0.0), point_resamples, 3);
  REQUIRE(point.samples == point_resamples);
  REQUIRE(relative_error(point.a.lo, 0.34) < 1e-4);
  REQUIRE(relative_error(point.a.hi, 0.34) < 1e-4);
  REQUIRE(relative_error(point.E.lo, 1.69) < 1e-4);
  REQUIRE(relative_error(point.E.hi, 1.69) < 1e-4);
}
