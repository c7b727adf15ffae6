#include "core/precision.h"

#include "core/error.h"

namespace tg {

std::string to_string(Precision p) { return p == Precision::FP32 ? "fp32" : "bf16"; }

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::FP32;
  if (name == "bf16") return Precision::BF16;
  throw UserError("unknown precision \"" + name + "\" (expected fp32 or bf16)");
}

}  // namespace tg
