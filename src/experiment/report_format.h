#pragma once
// How the experiment reports print numbers: "n/a" for what is not finite (an unfinished
// or unfitted figure), percentages signed, and mean ± std over seeds.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "experiment/compute_saved.h"

namespace tg::report {

inline std::string fmt(double v, const char* f = "%.4f") {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

inline std::string pct(double v) { return std::isfinite(v) ? fmt(100.0 * v, "%+.1f%%") : "n/a"; }

// "1.2345 ± 0.0123" or "+12.3% ± 4.5"; one value alone (one seed: no spread); n/a for none.
inline std::string mean_std(const std::vector<double>& v, bool percent) {
  const MeanSpread m = mean_spread(v);
  if (m.n == 0) return "n/a";
  if (m.n == 1) return percent ? pct(m.mean) : fmt(m.mean);
  return percent ? pct(m.mean) + " ± " + fmt(100.0 * m.std, "%.1f") : fmt(m.mean) + " ± " + fmt(m.std);
}

}  // namespace tg::report
