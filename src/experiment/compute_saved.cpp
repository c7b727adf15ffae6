#include "experiment/compute_saved.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tg {

FrontierFlops frontier_flops_for_loss(std::vector<CurvePoint> frontier, double target_loss) {
  FrontierFlops out;
  out.flops = std::numeric_limits<double>::quiet_NaN();
  frontier.erase(std::remove_if(frontier.begin(), frontier.end(),
                                [](const CurvePoint& p) { return !(p.flops > 0) || !std::isfinite(p.loss); }),
                 frontier.end());
  if (frontier.size() < 2 || !std::isfinite(target_loss)) return out;
  std::sort(frontier.begin(), frontier.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.flops < b.flops; });
  auto interpolate = [&](const CurvePoint& a, const CurvePoint& b) {
    if (a.loss == b.loss) return a.flops;
    const double t = (target_loss - a.loss) / (b.loss - a.loss);
    return std::exp(std::log(a.flops) + t * (std::log(b.flops) - std::log(a.flops)));
  };
  // The first segment whose losses bracket the target.
  for (size_t i = 0; i + 1 < frontier.size(); ++i) {
    const double lo = std::min(frontier[i].loss, frontier[i + 1].loss);
    const double hi = std::max(frontier[i].loss, frontier[i + 1].loss);
    if (target_loss >= lo && target_loss <= hi) {
      out.flops = interpolate(frontier[i], frontier[i + 1]);
      return out;
    }
  }
  // Outside the range: extend the nearest end segment (loss falls with FLOPs, so a
  // target below every loss extends the cheap-to-expensive end).
  out.extrapolated = true;
  const bool below = target_loss < frontier.back().loss;
  out.flops = below ? interpolate(frontier[frontier.size() - 2], frontier.back()) : interpolate(frontier[0], frontier[1]);
  return out;
}

std::optional<double> flops_to_reach(const std::vector<CurvePoint>& curve, double target_loss) {
  for (size_t i = 0; i < curve.size(); ++i) {
    if (!std::isfinite(curve[i].loss) || curve[i].loss > target_loss) continue;
    if (i == 0 || !std::isfinite(curve[i - 1].loss)) return curve[i].flops;
    const CurvePoint& a = curve[i - 1];
    const CurvePoint& b = curve[i];
    const double t = (a.loss - target_loss) / (a.loss - b.loss);
    return a.flops + t * (b.flops - a.flops);
  }
  return std::nullopt;
}

MeanSpread mean_spread(const std::vector<double>& values) {
  MeanSpread m;
  m.min = std::numeric_limits<double>::infinity();
  m.max = -m.min;
  double sum = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++m.n;
      m.min = std::min(m.min, v);
      m.max = std::max(m.max, v);
    }
  if (m.n == 0) {
    m.mean = m.std = m.min = m.max = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  m.mean = sum / m.n;
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - m.mean) * (v - m.mean);
  m.std = m.n > 1 ? std::sqrt(ss / (m.n - 1)) : 0.0;
  return m;
}

}  // namespace tg
