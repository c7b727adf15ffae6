#pragma once
// A trainable tensor, its gradient, and how the optimizer treats it.
#include <string>

#include "core/tensor.h"

namespace tg {

struct Parameter {
  std::string name;  // path under /model in a checkpoint, e.g. "layers/0/ffn/keys"
  Tensor value;
  Tensor grad;       // same shape as value; layers accumulate into it (+=)
  bool decay = true; // decoupled AdamW weight decay applies (tokens, embedding; not norms)

  Parameter() = default;
  Parameter(std::string name_, std::vector<int64_t> shape, bool decay_)
      : name(std::move(name_)), value(shape), grad(shape), decay(decay_) {}
};

}  // namespace tg
