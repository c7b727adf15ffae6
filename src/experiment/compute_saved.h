#pragma once
// Compute-saved arithmetic for growth experiments (pure functions, tested on
// synthetic curves with known answers).
//
// Frontier: scratch runs at the final size, each with its own complete schedule
// and budget F_i, reaching final loss L_i. The FLOPs the frontier needs for a
// loss L* are read off the frontier interpolated linearly in log F:
//   log F* = log F_a + (L* - L_a) (log F_b - log F_a) / (L_b - L_a)
// between the two neighbouring points whose losses bracket L* (extrapolated from
// the nearest segment, and flagged, when L* is outside the frontier's range).
//   saved = 1 - F_grown / F*
//
// Conservative: the FLOPs at which the grown run's validation curve first reaches
// the scratch (1x budget) run's final loss, as a fraction of that run's FLOPs
// (linear interpolation in FLOPs between validation points):
//   saved_conservative = 1 - F_reach / F_scratch
#include <cstdint>
#include <optional>
#include <vector>

namespace tg {

struct CurvePoint {
  double flops;
  double loss;
};

struct FrontierFlops {
  double flops = 0;          // F* (NaN if fewer than two usable frontier points)
  bool extrapolated = false; // L* lies outside the frontier's losses
};

// frontier: (budget FLOPs, final loss) per scratch run, any order.
FrontierFlops frontier_flops_for_loss(std::vector<CurvePoint> frontier, double target_loss);

// curve: the grown run's validation points in order of FLOPs. Returns the first
// FLOPs at which the curve reaches loss <= target, or nullopt if it never does.
std::optional<double> flops_to_reach(const std::vector<CurvePoint>& curve, double target_loss);

struct MeanSpread {
  double mean = 0, std = 0, min = 0, max = 0;
  int64_t n = 0;  // finite values used
};
MeanSpread mean_spread(const std::vector<double>& values);

}  // namespace tg
