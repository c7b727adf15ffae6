#include "layers/layer_norm.h"

#include <cmath>

namespace tg {

LayerNorm::LayerNorm(const std::string& name, int64_t dim, bool affine, float eps) : dim_(dim), eps_(eps) {
  if (affine) {
    // Norm parameters are exempt from weight decay.
    weight_.emplace(name + "/weight", std::vector<int64_t>{dim}, std::vector<Axis>{Axis::Model}, OptimizerGroup::NoDecay);
    bias_.emplace(name + "/bias", std::vector<int64_t>{dim}, std::vector<Axis>{Axis::Model}, OptimizerGroup::NoDecay);
    weight_->value.fill(1.0f);
  }
}

void LayerNorm::collect_parameters(std::vector<Parameter*>& out) {
  if (weight_) {
    out.push_back(&*weight_);
    out.push_back(&*bias_);
  }
}

void LayerNorm::forward(const Tensor& x, Tensor& y) {
  const int64_t rows = x.rows(), d = dim_;
  xhat_.resize({rows, d});
  rstd_.resize({rows});
  y.resize({rows, d});
  const float* w = weight_ ? weight_->value.data() : nullptr;
  const float* b = bias_ ? bias_->value.data() : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * d;
    double sum = 0, sum_sq = 0;
    for (int64_t j = 0; j < d; ++j) sum += xr[j];
    const double mean = sum / d;
    for (int64_t j = 0; j < d; ++j) sum_sq += (xr[j] - mean) * (xr[j] - mean);
    const float rstd = static_cast<float>(1.0 / std::sqrt(sum_sq / d + eps_));
    rstd_[r] = rstd;
    float* xh = xhat_.data() + r * d;
    float* yr = y.data() + r * d;
    for (int64_t j = 0; j < d; ++j) {
      xh[j] = static_cast<float>(xr[j] - mean) * rstd;
      yr[j] = w ? xh[j] * w[j] + b[j] : xh[j];
    }
  }
}

void LayerNorm::backward(const Tensor& dy, Tensor& dx, bool accumulate_dx) {
  const int64_t rows = dy.rows(), d = dim_;
  if (!accumulate_dx) dx.resize({rows, d});
  const float* w = weight_ ? weight_->value.data() : nullptr;
  if (weight_) {
    // dW_j = sum_r dy_rj xhat_rj, dB_j = sum_r dy_rj: columns split across threads so
    // each sum runs in a fixed order (deterministic for any thread count).
    float* dw = weight_->grad.data();
    float* db = bias_->grad.data();
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < d; ++j) {
      double gw = 0, gb = 0;
      for (int64_t r = 0; r < rows; ++r) {
        gw += static_cast<double>(dy[r * d + j]) * xhat_[r * d + j];
        gb += dy[r * d + j];
      }
      dw[j] += static_cast<float>(gw);
      db[j] += static_cast<float>(gb);
    }
  }
  // g = dy * w;  dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* dyr = dy.data() + r * d;
    const float* xh = xhat_.data() + r * d;
    double mean_g = 0, mean_gx = 0;
    for (int64_t j = 0; j < d; ++j) {
      const float g = w ? dyr[j] * w[j] : dyr[j];
      mean_g += g;
      mean_gx += static_cast<double>(g) * xh[j];
    }
    mean_g /= d;
    mean_gx /= d;
    const float rstd = rstd_[r];
    float* dxr = dx.data() + r * d;
    for (int64_t j = 0; j < d; ++j) {
      const float g = w ? dyr[j] * w[j] : dyr[j];
      const float v = rstd * static_cast<float>(g - mean_g - xh[j] * mean_gx);
      dxr[j] = accumulate_dx ? dxr[j] + v : v;
    }
  }
}

}  // namespace tg
