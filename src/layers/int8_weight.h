#pragma once
// The inference form of one binary/ternary weight matrix (docs/bitnet.md, "Inference"):
// its levels Q as int8 (rows x cols, row-major, in {-1, 0, +1}) and its per-row scales,
// fixed once at load instead of recomputed from float master weights in every forward.
// A Pattention or Linear whose Int8Weights are frozen runs its forward on the int8
// kernels (layers/quantized_matmul.h) and has no backward.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/weight_quantization.h"

namespace tg {

struct Int8Weight {
  std::string name;  // the float parameter it stands for, e.g. "layers/0/ffn/keys"
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> levels;  // rows x cols
  Tensor scales;               // rows
  bool frozen = false;         // levels and scales set: forward uses them

  Int8Weight() = default;
  Int8Weight(std::string name_, int64_t rows_, int64_t cols_) : name(std::move(name_)), rows(rows_), cols(cols_) {}

  // Q and the scales of w (rows x cols) exactly as training's forward computes them
  // (quantize_weight_rows), then frozen.
  void freeze_from(WeightFormat format, const Tensor& w);
  // Adopts stored levels (rows x cols) and scales (rows); std::logic_error on a size
  // mismatch (the file reader checks sizes first).
  void freeze(std::vector<int8_t> stored_levels, Tensor stored_scales);
};

}  // namespace tg
