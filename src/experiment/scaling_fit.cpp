#include "experiment/scaling_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

// GCC 12 reports -Wmaybe-uninitialized inside Eigen's AVX-512 matrix-vector kernels
// (a false positive in the intrinsics' headers, not in this file's values).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Dense>
#include <unsupported/Eigen/NonLinearOptimization>

#include "core/rng.h"

namespace tg {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kHuberDelta = 1e-3;

void require_positive(double value, const char* what) {
  if (!std::isfinite(value) || value <= 0)
    throw std::invalid_argument(std::string("scaling fit: ") + what + " must be finite and > 0, got " +
                                std::to_string(value));
}

void validate(const ScalingRun& r) {
  require_positive(r.n_params, "n_params");
  require_positive(r.tokens, "tokens");
  require_positive(r.flops, "flops");
  require_positive(r.loss, "loss");
}

void validate_samples(int64_t samples) {
  if (samples < 1 || samples > kMaxBootstrapSamples)
    throw std::invalid_argument("scaling fit: bootstrap samples must be in [1, " + std::to_string(kMaxBootstrapSamples) +
                                "], got " + std::to_string(samples));
}

int64_t count_distinct(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return std::unique(values.begin(), values.end()) - values.begin();
}

// Levenberg-Marquardt from `x` with tight tolerances; returns the final point.
template <typename Functor>
Eigen::VectorXd minimize(Functor& functor, Eigen::VectorXd x) {
  Eigen::LevenbergMarquardt<Functor> lm(functor);
  lm.parameters.ftol = 1e-14;
  lm.parameters.xtol = 1e-14;
  lm.parameters.maxfev = 2000;
  lm.minimize(x);
  return x;
}

// ---- IsoFLOP parabola ----

// Least squares of loss on (1, x, x^2), x = ln N - x0; returns (c0, c1, c2).
Eigen::Vector3d fit_parabola(const std::vector<ScalingRun>& runs, double x0) {
  Eigen::MatrixXd X(runs.size(), 3);
  Eigen::VectorXd y(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    const double x = std::log(runs[i].n_params) - x0;
    X.row(i) << 1.0, x, x * x;
    y(i) = runs[i].loss;
  }
  return X.colPivHouseholderQr().solve(y);
}

// ---- Power law L = E + exp(k) (C / C_ref)^(-alpha), parameters (E, k, alpha) ----

struct PowerLawResiduals {
  std::vector<double> log_x, loss;  // ln(C / C_ref), L
  int values() const { return static_cast<int>(loss.size()); }
  int operator()(const Eigen::VectorXd& p, Eigen::VectorXd& r) const {
    for (size_t i = 0; i < loss.size(); ++i) r(i) = p(0) + std::exp(p(1) - p(2) * log_x[i]) - loss[i];
    return r.allFinite() ? 0 : -1;
  }
  int df(const Eigen::VectorXd& p, Eigen::MatrixXd& J) const {
    for (size_t i = 0; i < loss.size(); ++i) {
      const double t = std::exp(p(1) - p(2) * log_x[i]);
      J.row(i) << 1.0, t, -t * log_x[i];
    }
    return J.allFinite() ? 0 : -1;
  }
};

// The start at a given alpha: (E, A') from linear least squares of L on (1, x^-alpha).
bool linear_start(const PowerLawResiduals& f, double alpha, Eigen::VectorXd& start) {
  Eigen::MatrixXd X(f.loss.size(), 2);
  Eigen::VectorXd y(f.loss.size());
  for (size_t i = 0; i < f.loss.size(); ++i) {
    X.row(i) << 1.0, std::exp(-alpha * f.log_x[i]);
    y(i) = f.loss[i];
  }
  const Eigen::Vector2d c = X.colPivHouseholderQr().solve(y);
  if (!(c(1) > 0)) return false;
  start = Eigen::Vector3d(c(0), std::log(c(1)), alpha);
  return true;
}

double sum_of_squares(const PowerLawResiduals& f, const Eigen::VectorXd& p) {
  Eigen::VectorXd r(f.values());
  if (f(p, r) < 0) return kNaN;
  return r.squaredNorm();
}

// LM from the linear start at each alpha of a grid; the lowest sum of squares
// (returned in ss) wins. Empty if no start has a positive amplitude.
Eigen::VectorXd best_power_law(const PowerLawResiduals& f, double& ss) {
  Eigen::VectorXd best;
  for (double alpha : {0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0}) {
    Eigen::VectorXd start;
    if (!linear_start(f, alpha, start)) continue;
    const Eigen::VectorXd p = minimize(f, start);
    const double candidate = sum_of_squares(f, p);
    if (std::isfinite(candidate) && !(candidate >= ss)) {
      ss = candidate;
      best = p;
    }
  }
  return best;
}

// ---- Parametric law, parameters (e, k_A, k_B, a, b) ----

struct ParametricResiduals {
  std::vector<double> log_n, log_d, log_loss;
  int values() const { return static_cast<int>(log_loss.size()); }

  // log L_pred and the softmax weights (w_A, w_B, w_E) of the three terms.
  double predict(const Eigen::VectorXd& p, size_t i, Eigen::Vector3d& w) const {
    const Eigen::Vector3d u(p(1) - p(3) * log_n[i], p(2) - p(4) * log_d[i], p(0));
    const double m = u.maxCoeff();
    w = (u.array() - m).exp();
    const double s = w.sum();
    w /= s;
    return m + std::log(s);
  }
  // rho(r) = sign(r) sqrt(2 huber(r)) and its derivative.
  static double rho(double r, double& slope) {
    if (std::abs(r) <= kHuberDelta) {
      slope = 1.0;
      return r;
    }
    const double magnitude = std::sqrt(2 * kHuberDelta * std::abs(r) - kHuberDelta * kHuberDelta);
    slope = kHuberDelta / magnitude;
    return r > 0 ? magnitude : -magnitude;
  }
  int operator()(const Eigen::VectorXd& p, Eigen::VectorXd& r) const {
    Eigen::Vector3d w;
    double slope;
    for (size_t i = 0; i < log_loss.size(); ++i) r(i) = rho(predict(p, i, w) - log_loss[i], slope);
    return r.allFinite() ? 0 : -1;
  }
  int df(const Eigen::VectorXd& p, Eigen::MatrixXd& J) const {
    Eigen::Vector3d w;
    double slope;
    for (size_t i = 0; i < log_loss.size(); ++i) {
      rho(predict(p, i, w) - log_loss[i], slope);
      J.row(i) << w(2), w(0), w(1), -w(0) * log_n[i], -w(1) * log_d[i];
      J.row(i) *= slope;
    }
    return J.allFinite() ? 0 : -1;
  }
};

ParametricResiduals parametric_residuals(const std::vector<ScalingRun>& runs) {
  ParametricResiduals f;
  for (const ScalingRun& r : runs) {
    f.log_n.push_back(std::log(r.n_params));
    f.log_d.push_back(std::log(r.tokens));
    f.log_loss.push_back(std::log(r.loss));
  }
  return f;
}

// sum huber = (sum rho^2) / 2.
double huber_objective(const ParametricResiduals& f, const Eigen::VectorXd& p) {
  Eigen::VectorXd r(f.values());
  if (f(p, r) < 0) return kNaN;
  return 0.5 * r.squaredNorm();
}

std::vector<Eigen::VectorXd> start_grid(const std::vector<double>& exponents, const std::vector<double>& es,
                                        const std::vector<double>& ks) {
  std::vector<Eigen::VectorXd> starts;
  for (double a : exponents)
    for (double b : exponents)
      for (double e : es)
        for (double ka : ks)
          for (double kb : ks) {
            Eigen::VectorXd p(5);
            p << e, ka, kb, a, b;
            starts.push_back(p);
          }
  return starts;
}

// The paper's grid (Hoffmann et al. 2022, appendix D.2).
std::vector<Eigen::VectorXd> paper_starts() {
  return start_grid({0, 0.5, 1, 1.5, 2}, {-1, -0.5, 0, 0.5, 1}, {0, 5, 10, 15, 20, 25});
}

bool identifiable(const std::vector<ScalingRun>& runs) {
  std::vector<double> n, d;
  for (const ScalingRun& r : runs) {
    n.push_back(r.n_params);
    d.push_back(r.tokens);
  }
  return runs.size() >= 5 && count_distinct(n) >= 3 && count_distinct(d) >= 3;
}

ParametricFit fit_parametric_from(const std::vector<ScalingRun>& runs, const std::vector<Eigen::VectorXd>& starts) {
  for (const ScalingRun& r : runs) validate(r);
  ParametricFit fit;
  if (!identifiable(runs)) return fit;
  ParametricResiduals f = parametric_residuals(runs);
  Eigen::VectorXd best;
  for (const Eigen::VectorXd& start : starts) {
    const Eigen::VectorXd p = minimize(f, start);
    const double objective = huber_objective(f, p);
    if (std::isfinite(objective) && !(objective >= fit.objective)) {
      fit.objective = objective;
      best = p;
    }
  }
  if (best.size() == 0) return fit;
  fit.E = std::exp(best(0));
  fit.A = std::exp(best(1));
  fit.B = std::exp(best(2));
  fit.a = best(3);
  fit.b = best(4);
  fit.ok = std::isfinite(fit.E) && std::isfinite(fit.A) && std::isfinite(fit.B) && fit.a > 0 && fit.b > 0;
  return fit;
}

// ---- Bootstrap ----

// Percentile p in [0, 1] of sorted values, linear between order statistics.
double percentile(const std::vector<double>& sorted, double p) {
  const double position = p * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

std::vector<size_t> resample(size_t n, Rng& rng) {
  std::vector<size_t> drawn(n);
  for (size_t& i : drawn) i = static_cast<size_t>(rng.below(n));
  return drawn;
}

// Per budget: the mean FLOPs of its runs (over the given runs).
std::map<int64_t, double> budget_flops(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index) {
  std::map<int64_t, std::pair<double, int64_t>> sums;
  for (size_t i = 0; i < runs.size(); ++i) {
    auto& [sum, count] = sums[budget_index[i]];
    sum += runs[i].flops;
    ++count;
  }
  std::map<int64_t, double> mean;
  for (const auto& [budget, s] : sums) mean[budget] = s.first / static_cast<double>(s.second);
  return mean;
}

// Best loss per budget among the drawn runs, at the budget's FLOPs.
std::vector<CurvePoint> envelope_of(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index,
                                    const std::vector<size_t>& drawn, const std::map<int64_t, double>& flops) {
  std::map<int64_t, double> best;
  for (size_t i : drawn) {
    auto [it, inserted] = best.emplace(budget_index[i], runs[i].loss);
    if (!inserted) it->second = std::min(it->second, runs[i].loss);
  }
  std::vector<CurvePoint> points;
  for (const auto& [budget, loss] : best) points.push_back({flops.at(budget), loss});
  return points;
}

void validate_budgets(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index) {
  if (budget_index.size() != runs.size())
    throw std::invalid_argument("scaling fit: budget_index has " + std::to_string(budget_index.size()) +
                                " entries, expected one per run (" + std::to_string(runs.size()) + ")");
  for (const ScalingRun& r : runs) validate(r);
}

}  // namespace

IsoFlopMinimum isoflop_minimum(std::vector<ScalingRun> runs) {
  if (runs.empty()) throw std::invalid_argument("scaling fit: isoflop_minimum needs at least one run");
  for (const ScalingRun& r : runs) validate(r);
  std::sort(runs.begin(), runs.end(), [](const ScalingRun& x, const ScalingRun& y) { return x.n_params < y.n_params; });
  IsoFlopMinimum out;
  for (const ScalingRun& r : runs) out.flops += r.flops / static_cast<double>(runs.size());
  const auto best = std::min_element(runs.begin(), runs.end(),
                                     [](const ScalingRun& x, const ScalingRun& y) { return x.loss < y.loss; });
  out.best_params = best->n_params;
  out.best_loss = best->loss;
  out.at_edge = best->n_params == runs.front().n_params || best->n_params == runs.back().n_params;
  // The best run and up to two neighbours on each side (indices clamped before forming iterators).
  const auto at = best - runs.begin();
  const auto first = std::max<std::ptrdiff_t>(0, at - 2);
  const auto last = std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(runs.size()), at + 3);
  const std::vector<ScalingRun> window(runs.begin() + first, runs.begin() + last);
  std::vector<double> sizes;
  for (const ScalingRun& r : window) sizes.push_back(r.n_params);
  if (count_distinct(sizes) < 3) return out;
  const double x0 = std::log(best->n_params);
  const Eigen::Vector3d c = fit_parabola(window, x0);
  if (!(c(2) > 0)) return out;
  out.fit_params = std::exp(x0 - c(1) / (2 * c(2)));
  out.fit_loss = c(0) - c(1) * c(1) / (4 * c(2));
  return out;
}

// L = A C^-alpha (E = 0): ln L = ln A' - alpha x with x = ln C - ln C_ref, by linear
// least squares; A = A' C_ref^alpha.
PowerLawFit pure_power_law(const PowerLawResiduals& f, double log_ref) {
  const size_t n = f.loss.size();
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) mx += f.log_x[i] / n, my += std::log(f.loss[i]) / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (f.log_x[i] - mx) * (std::log(f.loss[i]) - my);
    sxx += (f.log_x[i] - mx) * (f.log_x[i] - mx);
  }
  PowerLawFit fit;
  fit.E = 0;
  fit.E_at_bound = true;
  fit.alpha = -sxy / sxx;
  const double log_a_ref = my + fit.alpha * mx;  // ln A' at x = 0
  fit.A = std::exp(log_a_ref + fit.alpha * log_ref);
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += std::pow(std::exp(log_a_ref - fit.alpha * f.log_x[i]) - f.loss[i], 2);
  fit.rmse = std::sqrt(ss / static_cast<double>(n));
  fit.ok = std::isfinite(fit.A) && fit.alpha > 0;
  return fit;
}

PowerLawFit fit_power_law(const std::vector<CurvePoint>& points) {
  std::vector<double> flops;
  for (const CurvePoint& p : points) {
    require_positive(p.flops, "flops");
    require_positive(p.loss, "loss");
    flops.push_back(p.flops);
  }
  PowerLawFit fit;
  if (count_distinct(flops) < 3) return fit;
  double log_ref = 0;  // ln C_ref, the mean of ln C
  for (double c : flops) log_ref += std::log(c) / static_cast<double>(flops.size());
  PowerLawResiduals f;
  for (const CurvePoint& p : points) {
    f.log_x.push_back(std::log(p.flops) - log_ref);
    f.loss.push_back(p.loss);
  }
  double ss = kNaN;
  const Eigen::VectorXd best = best_power_law(f, ss);
  if (best.size() == 0) return fit;
  fit.E = best(0);
  fit.alpha = best(2);
  fit.A = std::exp(best(1) + fit.alpha * log_ref);
  fit.rmse = std::sqrt(ss / static_cast<double>(points.size()));
  if (fit.E < 0) return pure_power_law(f, log_ref);
  fit.ok = std::isfinite(fit.E) && std::isfinite(fit.A) && fit.alpha > 0;
  return fit;
}

double power_law_loss(const PowerLawFit& f, double flops) { return f.E + f.A * std::pow(flops, -f.alpha); }

double power_law_flops_for_loss(const PowerLawFit& f, double loss) {
  if (!f.ok || !(loss > f.E)) return kNaN;
  return std::pow(f.A / (loss - f.E), 1.0 / f.alpha);
}

std::vector<CurvePoint> envelope(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index) {
  validate_budgets(runs, budget_index);
  std::vector<size_t> all(runs.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  return envelope_of(runs, budget_index, all, budget_flops(runs, budget_index));
}

ParametricFit fit_parametric(const std::vector<ScalingRun>& runs) { return fit_parametric_from(runs, paper_starts()); }

double parametric_loss(const ParametricFit& f, double n_params, double tokens) {
  return f.E + f.A * std::pow(n_params, -f.a) + f.B * std::pow(tokens, -f.b);
}

double parametric_objective(const ParametricFit& f, const std::vector<ScalingRun>& runs) {
  for (const ScalingRun& r : runs) validate(r);
  Eigen::VectorXd p(5);
  p << std::log(f.E), std::log(f.A), std::log(f.B), f.a, f.b;
  return huber_objective(parametric_residuals(runs), p);
}

ComputeOptimal parametric_compute_optimal(const ParametricFit& f, double flops, double flops_per_param_token) {
  require_positive(flops, "flops");
  require_positive(flops_per_param_token, "flops_per_param_token");
  ComputeOptimal out;
  if (!f.ok || !(f.a > 0) || !(f.b > 0)) return out;
  const double param_tokens = flops / flops_per_param_token;  // N D
  const double g = std::pow(f.a * f.A / (f.b * f.B), 1.0 / (f.a + f.b));
  out.n_params = g * std::pow(param_tokens, f.b / (f.a + f.b));
  out.tokens = param_tokens / out.n_params;
  out.loss = parametric_loss(f, out.n_params, out.tokens);
  return out;
}

double flops_per_param_token(const std::vector<ScalingRun>& runs) {
  if (runs.empty()) throw std::invalid_argument("scaling fit: flops_per_param_token needs at least one run");
  double log_sum = 0;
  for (const ScalingRun& r : runs) {
    validate(r);
    log_sum += std::log(r.flops) - std::log(r.n_params) - std::log(r.tokens);
  }
  return std::exp(log_sum / static_cast<double>(runs.size()));
}

Interval percentile_interval(std::vector<double> values) {
  Interval out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  out.lo = percentile(values, 0.025);
  out.hi = percentile(values, 0.975);
  return out;
}

PowerLawIntervals bootstrap_envelope_law(const std::vector<ScalingRun>& runs, const std::vector<int64_t>& budget_index,
                                         int64_t samples, uint64_t seed) {
  validate_budgets(runs, budget_index);
  validate_samples(samples);
  PowerLawIntervals out;
  if (runs.empty()) return out;
  const std::map<int64_t, double> flops = budget_flops(runs, budget_index);
  std::vector<double> E, A, alpha;
  Rng rng(seed);
  for (int64_t s = 0; s < samples; ++s) {
    const PowerLawFit fit = fit_power_law(envelope_of(runs, budget_index, resample(runs.size(), rng), flops));
    if (!fit.ok) continue;
    E.push_back(fit.E);
    A.push_back(fit.A);
    alpha.push_back(fit.alpha);
  }
  out.samples = static_cast<int64_t>(E.size());
  out.E = percentile_interval(E);
  out.A = percentile_interval(A);
  out.alpha = percentile_interval(alpha);
  return out;
}

ParametricIntervals bootstrap_parametric(const std::vector<ScalingRun>& runs, int64_t samples, uint64_t seed) {
  validate_samples(samples);
  ParametricIntervals out;
  const ParametricFit full = fit_parametric(runs);
  if (!full.ok) return out;
  std::vector<Eigen::VectorXd> starts = start_grid({0.5, 1.5}, {0, 1}, {5, 15});
  Eigen::VectorXd warm(5);
  warm << std::log(full.E), std::log(full.A), std::log(full.B), full.a, full.b;
  starts.insert(starts.begin(), warm);
  std::vector<double> E, A, B, a, b;
  Rng rng(seed);
  std::vector<ScalingRun> drawn(runs.size());
  for (int64_t s = 0; s < samples; ++s) {
    for (size_t i = 0; i < runs.size(); ++i) drawn[i] = runs[rng.below(runs.size())];
    const ParametricFit fit = fit_parametric_from(drawn, starts);
    if (!fit.ok) continue;
    E.push_back(fit.E);
    A.push_back(fit.A);
    B.push_back(fit.B);
    a.push_back(fit.a);
    b.push_back(fit.b);
  }
  out.samples = static_cast<int64_t>(E.size());
  out.E = percentile_interval(E);
  out.A = percentile_interval(A);
  out.B = percentile_interval(B);
  out.a = percentile_interval(a);
  out.b = percentile_interval(b);
  return out;
}

#pragma GCC diagnostic pop

}  // namespace tg
