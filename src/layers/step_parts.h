#pragma once
// The parts of a training step that `tokengrow bench` times (core/part_timer.h), by the
// names the layers, the model and the bench time them under, in the order bench prints.
#include <array>
#include <string_view>

namespace tg::step_part {

// the four matmuls of each Pattention (or Linear/MLP) forward/backward, with the bf16
// copies of their inputs
inline constexpr std::string_view kPattentionMatmul = "pattention_matmul";
// score normalisation (L2 norm, scale, GELU / softmax; the MLP's GELU) and its backward
inline constexpr std::string_view kPattentionNorm = "pattention_norm";
inline constexpr std::string_view kAttention = "attention";  // rotary, scores, softmax, P v, backward
inline constexpr std::string_view kNorms = "norms";          // LayerNorms
inline constexpr std::string_view kLogits = "logits";        // tied output projection, forward and backward
inline constexpr std::string_view kLoss = "loss";            // softmax cross-entropy and its gradient
inline constexpr std::string_view kOptimizer = "optimizer";  // gradient clipping and AdamW
// the rest of the step, timed by nothing: embedding, residual adds, zero_grad
inline constexpr std::string_view kOther = "other";

inline constexpr std::array<std::string_view, 8> kAll = {kPattentionMatmul, kPattentionNorm, kAttention, kNorms,
                                                         kLogits,           kLoss,           kOptimizer, kOther};

}  // namespace tg::step_part
