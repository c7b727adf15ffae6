#pragma once
// Finite-difference gradient checking for float32 layers.
//
// Each checked element x_i is moved by +-h and the loss recomputed (in double);
// the central difference (L(x+h) - L(x-h)) / 2h must match the analytic gradient
// within atol + rtol * |g|. With h = 1e-2 the truncation error is O(h^2) ~ 1e-4
// and float32 rounding in L contributes ~1e-7 |L| / h.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace tg::testing {

inline void fill_normal(Tensor& t, Rng& rng, float std = 1.0f) {
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = std * static_cast<float>(rng.normal());
}

// sum_i a_i * b_i in double: the scalar loss L = sum(Y * R) whose dL/dY = R.
inline double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.numel(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// |a - b| / |b| in the L2 norm, in double: how far a tensor is from a reference.
inline double relative_l2(const Tensor& a, const Tensor& b) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(diff / norm);
}

// `loss()` recomputes the scalar loss from the current contents of `values`.
template <class LossFn>
void check_gradient(const std::string& what, float* values, const float* grad, int64_t n, LossFn loss,
                    double h = 1e-2, double atol = 1e-3, double rtol = 1e-2, int64_t stride = 1) {
  for (int64_t i = 0; i < n; i += stride) {
    const float saved = values[i];
    values[i] = saved + static_cast<float>(h);
    const double up = loss();
    values[i] = saved - static_cast<float>(h);
    const double down = loss();
    values[i] = saved;
    // Use the actually representable step, not h.
    const double step = static_cast<double>(saved + static_cast<float>(h)) - static_cast<double>(saved - static_cast<float>(h));
    const double numeric = (up - down) / step;
    INFO(what << "[" << i << "]: analytic " << grad[i] << ", numeric " << numeric);
    REQUIRE(std::abs(numeric - grad[i]) <= atol + rtol * std::abs(numeric));
  }
}

}  // namespace tg::testing
