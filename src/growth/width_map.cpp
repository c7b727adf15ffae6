#include "growth/width_map.h"

#include <cmath>
#include <stdexcept>


namespace tg {

bool widens(Axis axis) { return axis == Axis::Model || axis == Axis::Hidden; }

namespace {
// The final norm feeds the tied output head (model/language_model.h), which reads
// it with the undivided embedding: its values are divided by k instead.
bool feeds_tied_head(const std::string& name) { return name.rfind("final_norm/", 0) == 0; }

// Row-major strides of a shape.
std::vector<int64_t> strides_of(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t a = shape.size(); a-- > 1;) s[a - 1] = s[a] * shape[a];
  return s;
}
}  // namespace

void tile_into(const Tensor& old, const std::vector<Axis>& axes, int64_t k, float scale, Tensor& grown) {
  const std::vector<int64_t>& from = old.shape();
  const std::vector<int64_t>& to = grown.shape();
  if (from.size() != to.size() || axes.size() != to.size())
    throw std::logic_error("tile_into: shapes " + shape_string(from) + " and " + shape_string(to) + " differ in rank");
  for (size_t a = 0; a < to.size(); ++a) {
    const bool ok = widens(axes[a]) ? to[a] == k * from[a] : axes[a] == Axis::Tokens ? to[a] >= from[a] : to[a] == from[a];
    if (!ok) throw std::logic_error("tile_into: " + shape_string(from) + " cannot grow into " + shape_string(to));
  }
  const std::vector<int64_t> from_strides = strides_of(from), to_strides = strides_of(to);
  for (int64_t i = 0; i < grown.numel(); ++i) {
    int64_t source = 0;
    bool is_new = false;
    for (size_t a = 0; a < to.size(); ++a) {
      const int64_t index = (i / to_strides[a]) % to[a];
      if (!widens(axes[a]) && index >= from[a]) is_new = true;  // a new token row
      source += (index % from[a]) * from_strides[a];
    }
    if (!is_new) grown[i] = old[source] * scale;
  }
}

float width_value_scale(const Parameter& p, int64_t k) {
  const bool sums_over_clone = p.contracted_axis >= 0 && widens(p.axes[p.contracted_axis]);
  return sums_over_clone || feeds_tied_head(p.name) ? 1.0f / static_cast<float>(k) : 1.0f;
}

float width_gradient_scale(const Parameter& p, int64_t k) {
  if (feeds_tied_head(p.name)) return 1.0f;
  for (size_t a = 0; a < p.axes.size(); ++a)
    if (static_cast<int>(a) != p.contracted_axis && widens(p.axes[a])) return 1.0f / static_cast<float>(k);
  return 1.0f;
}

void add_symmetry_noise(Parameter& p, int64_t k, double noise, double old_rms, Rng& rng) {
  if (k == 1 || noise == 0 || p.contracted_axis < 0 || !widens(p.axes[p.contracted_axis])) return;
  if (p.contracted_axis != p.value.ndim() - 1)
    throw std::logic_error(p.name + ": symmetry noise expects the contracted axis last");
  const int64_t cols = p.value.cols(), rows = p.value.numel() / cols, block = cols / k;
  const double std = noise * old_rms / static_cast<double>(k);
  std::vector<double> draw(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < block; ++c) {
      double mean = 0;
      for (int64_t j = 0; j < k; ++j) mean += (draw[j] = std * rng.normal()) / static_cast<double>(k);
      for (int64_t j = 0; j < k; ++j) p.value[r * cols + j * block + c] += static_cast<float>(draw[j] - mean);
    }
}

std::vector<int64_t> tile_row_steps(const std::vector<int64_t>& old, const Parameter& p, int64_t k) {
  const int64_t rows = p.value.ndim() >= 2 ? p.value.dim(0) : 1;
  const bool cloned = p.value.ndim() >= 2 && widens(p.axes[0]) && k > 1;
  std::vector<int64_t> steps(static_cast<size_t>(rows), 0);
  const int64_t n_old = static_cast<int64_t>(old.size());
  for (int64_t r = 0; r < rows; ++r)
    if (cloned || r < n_old) steps[r] = old[r % n_old];
  return steps;
}

}  // namespace tg
