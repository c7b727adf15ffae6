#pragma once
// Scaling-law fits for from-scratch sweeps (pure functions, tested on synthetic
// runs drawn from known laws). N = parameters, D = tokens, C = training FLOPs,
// L = final loss; every fit works in natural logarithms.
//
// IsoFLOP minimum (Chinchilla approach 2), at one budget C: with x = ln N, the
// best measured run and up to two neighbours on each side in N are fitted by
// least squares with
//   L(x) = c0 + c1 (x - x_best) + c2 (x - x_best)^2
// (centred on the best run for conditioning). The vertex, when c2 > 0, is
//   x* = x_best - c1 / (2 c2),   L* = c0 - c1^2 / (4 c2).
//
// Envelope law over budgets: L(C) = E + A C^(-alpha), least squares on L.
// Fitted as E + exp(k) (C / C_ref)^(-alpha) in (E, k, alpha), C_ref the geometric
// mean of the points' C; reported A = exp(k) C_ref^alpha. Starts: for each alpha
// of a grid, (E, exp(k)) from the linear least squares at that alpha; each start
// refined by Levenberg-Marquardt (Eigen), the lowest sum of squares kept. Inverse:
//   C(L) = (A / (L - E))^(1/alpha)   for L > E.
//
// Parametric law (Chinchilla approach 3): L(N, D) = E + A / N^a + B / D^b, fitted
// as in the paper in (e, k_A, k_B, a, b) with E = e^e, A = e^k_A, B = e^k_B:
//   log L_pred = LSE(k_A - a ln N, k_B - b ln D, e)
// minimising sum_i huber_delta(log L_pred,i - log L_i), delta = 1e-3, where
//   huber(r) = r^2 / 2 for |r| <= delta, else delta (|r| - delta / 2).
// Levenberg-Marquardt minimises a sum of squares, so each residual r is replaced
// by rho(r) = sign(r) sqrt(2 huber(r)): sum rho^2 = 2 sum huber, rho = r inside
// delta and grows as sqrt(|r|) outside; rho is C^1 (d rho / dr = delta / |rho|
// outside), which LM needs. Starts: the paper's grid, a, b in {0, 0.5, .., 2},
// e in {-1, -0.5, .., 1}, k_A, k_B in {0, 5, .., 25} (4500 starts); the best
// objective kept. objective = sum huber (the paper's, without the factor 2).
// Compute-optimal split of a budget C = k N D (k = 6 by default, or the sweep's
// own FLOPs per parameter-token from flops_per_param_token): minimising L at
// fixed C gives a A N^-a = b B D^-b, so with G = (a A / (b B))^(1 / (a + b)):
//   N_opt = G (C / k)^(b / (a + b)),   D_opt = (C / k) / N_opt.
//
// Bootstrap: resample the runs with replacement (Rng, seeded), refit, take the
// 2.5 and 97.5 percentiles (linear interpolation between order statistics) of
// each fitted value over the resamples whose refit succeeded.
#include <cstdint>
#include <limits>
#include <vector>

#include "experiment/compute_saved.h"

namespace tg {

// One finished from-scratch run of a scaling sweep. All four values finite and > 0
// (the fits throw std::invalid_argument otherwise; the caller filters).
struct ScalingRun {
  double n_params = 0, tokens = 0, flops = 0, loss = 0;
};

struct IsoFlopMinimum {
  double flops = 0;                       // the budget: mean of the runs' flops
  double best_params = 0, best_loss = 0;  // the best measured run
  // Vertex of the parabola in ln N (see above) fitted to the best run and up to 2
  // neighbours on each side in N; NaN with fewer than 3 distinct N or c2 <= 0.
  double fit_params = std::numeric_limits<double>::quiet_NaN();
  double fit_loss = std::numeric_limits<double>::quiet_NaN();
  bool at_edge = false;  // the best run is the smallest or largest N: the optimum may lie outside
};
// runs_at_budget: the runs of one budget, any order, at least one.
IsoFlopMinimum isoflop_minimum(std::vector<ScalingRun> runs_at_budget);

struct PowerLawFit {
  double E = std::numeric_limits<double>::quiet_NaN(), A = std::numeric_limits<double>::quiet_NaN(),
         alpha = std::numeric_limits<double>::quiet_NaN();
  double rmse = std::numeric_limits<double>::quiet_NaN();  // root mean squared loss residual
  // The fit converged to finite values with alpha > 0 (loss falls with compute).
  // The values are filled in even when alpha <= 0, for the report.
  bool ok = false;
  // A loss floor below zero means nothing (cross-entropy >= 0): when the least-squares
  // E is negative, the law is refitted with E = 0, a pure power law (least squares on
  // ln L against ln C), and this is set.
  bool E_at_bound = false;
};
// points: (C, L), any order; at least 3 distinct C, else !ok.
PowerLawFit fit_power_law(const std::vector<CurvePoint>& points);
double power_law_loss(const PowerLawFit& f, double flops);
// FLOPs the law needs for `loss`: (A / (loss - E))^(1/alpha); NaN if loss <= E or !ok.
double power_law_flops_for_loss(const PowerLawFit& f, double loss);

// The envelope of a sweep: per budget (runs with the same budget_index), the mean
// FLOPs of its runs and its best loss; ordered by budget index.
std::vector<CurvePoint> envelope(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index);

struct ParametricFit {
  double E = std::numeric_limits<double>::quiet_NaN(), A = std::numeric_limits<double>::quiet_NaN(),
         B = std::numeric_limits<double>::quiet_NaN();
  double a = std::numeric_limits<double>::quiet_NaN(), b = std::numeric_limits<double>::quiet_NaN();
  double objective = std::numeric_limits<double>::quiet_NaN();  // sum of Huber losses at the fit
  bool ok = false;
};
// At least 5 runs with at least 3 distinct N and 3 distinct D, else !ok.
ParametricFit fit_parametric(const std::vector<ScalingRun>& runs);
double parametric_loss(const ParametricFit& f, double n_params, double tokens);
// The fit's objective for any law on any runs: sum_i huber(log L_pred,i - log L_i).
double parametric_objective(const ParametricFit& f, const std::vector<ScalingRun>& runs);

struct ComputeOptimal {
  double n_params = std::numeric_limits<double>::quiet_NaN();
  double tokens = std::numeric_limits<double>::quiet_NaN();
  double loss = std::numeric_limits<double>::quiet_NaN();  // the law's loss there
};
// The split of `flops` = flops_per_param_token * N * D minimising the fitted law
// (formula above); NaN if !f.ok or a, b <= 0.
ComputeOptimal parametric_compute_optimal(const ParametricFit& f, double flops, double flops_per_param_token = 6.0);
// The sweep's own FLOPs per parameter-token: the geometric mean of C / (N D).
double flops_per_param_token(const std::vector<ScalingRun>& runs);

struct Interval {
  double lo = std::numeric_limits<double>::quiet_NaN(), hi = std::numeric_limits<double>::quiet_NaN();
};
// The 2.5 and 97.5 percentiles of values (linear between order statistics: the
// percentile p of n sorted values is at position p (n - 1)); NaN if empty.
Interval percentile_interval(std::vector<double> values);

struct PowerLawIntervals {
  Interval E, A, alpha;
  int64_t samples = 0;  // resamples whose refit succeeded (the percentiles are over these)
};
// Each resample recomputes the envelope (best loss per budget present in it, at the
// budget's FLOPs over all runs) and refits the power law; a resample with fewer than
// 3 budgets fails. samples in [1, 100000].
PowerLawIntervals bootstrap_envelope_law(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index,
                                         int64_t samples, uint64_t seed);
struct ParametricIntervals {
  Interval E, A, B, a, b;
  int64_t samples = 0;  // resamples whose refit succeeded
};
// Each refit starts from the full-data fit (warm start) and from a coarse grid
// (a, b in {0.5, 1.5}, e in {0, 1}, k_A, k_B in {5, 15}): the paper's 4500 starts
// take about 2 s per fit of 35 runs, too slow for hundreds of resamples.
// samples in [1, 100000]; samples = 0 (NaN intervals) when the full-data fit fails.
ParametricIntervals bootstrap_parametric(const std::vector<ScalingRun>& runs, int64_t samples, uint64_t seed);

// The most bootstrap resamples a fit takes.
inline constexpr int64_t kMaxBootstrapSamples = 100000;

}  // namespace tg
