// Compute-saved arithmetic on synthetic curves with known answers.
#include <catch2/catch.hpp>

#include <cmath>

#include "experiment/compute_saved.h"

using namespace tg;

TEST_CASE("Frontier FLOPs are interpolated linearly in log FLOPs", "[compute_saved]") {
  // Loss falls by 0.1 per doubling of FLOPs: L = 2 - 0.1 log2(F / 1e12).
  auto loss_at = [](double f) { return 2.0 - 0.1 * std::log2(f / 1e12); };
  const std::vector<CurvePoint> frontier = {{2e12, loss_at(2e12)}, {0.5e12, loss_at(0.5e12)}, {1e12, loss_at(1e12)}, {1.5e12, loss_at(1.5e12)}};
  // A loss the frontier reaches at exactly 1.2e12 FLOPs (inside a segment; the
  // curve is linear in log F, so interpolation is exact).
  const auto f = frontier_flops_for_loss(frontier, loss_at(1.2e12));
  REQUIRE_FALSE(f.extrapolated);
  REQUIRE(f.flops == Approx(1.2e12).epsilon(1e-9));
  // A grown run using 1e12 FLOPs that matches it saved 1 - 1/1.2.
  REQUIRE(1.0 - 1e12 / f.flops == Approx(1.0 / 6.0).epsilon(1e-9));
  // Beyond the cheapest/most expensive point: extrapolated along the end segment, flagged.
  const auto beyond = frontier_flops_for_loss(frontier, loss_at(4e12));
  REQUIRE(beyond.extrapolated);
  REQUIRE(beyond.flops == Approx(4e12).epsilon(1e-9));
  const auto above = frontier_flops_for_loss(frontier, loss_at(0.25e12));
  REQUIRE(above.extrapolated);
  REQUIRE(above.flops == Approx(0.25e12).epsilon(1e-9));
  // Too few points: NaN.
  REQUIRE(std::isnan(frontier_flops_for_loss({{1e12, 1.0}}, 1.0).flops));
}

TEST_CASE("FLOPs to reach a loss are interpolated between validation points", "[compute_saved]") {
  const std::vector<CurvePoint> curve = {{0, 5.0}, {100, 3.0}, {200, 2.0}, {300, 1.5}, {400, 1.4}};
  REQUIRE(*flops_to_reach(curve, 2.5) == Approx(150.0));
  REQUIRE(*flops_to_reach(curve, 2.0) == Approx(200.0));
  REQUIRE(*flops_to_reach(curve, 6.0) == Approx(0.0));
  REQUIRE_FALSE(flops_to_reach(curve, 1.0).has_value());
  // A jump up after growth: interpolation runs from the post-growth point
  // (100, 2.6) to (200, 1.8): t = (2.6 - 1.9) / 0.8 = 0.875.
  const std::vector<CurvePoint> grown = {{0, 5.0}, {100, 2.0}, {100, 2.6}, {200, 1.8}};
  REQUIRE(*flops_to_reach(grown, 1.9) == Approx(187.5));
}

TEST_CASE("Mean and spread ignore non-finite values", "[compute_saved]") {
  const auto m = mean_spread({0.2, 0.3, std::nan("")});
  REQUIRE(m.n == 2);
  REQUIRE(m.mean == Approx(0.25));
  REQUIRE(m.std == Approx(std::sqrt(0.005)));
  REQUIRE(m.min == 0.2);
  REQUIRE(m.max == 0.3);
  REQUIRE(std::isnan(mean_spread({}).mean));
}
