#pragma once
// Hands a layer's saved activations (what its forward keeps for its backward) to and from
// a stash shared by every block of a model (train.recompute block).
//
// With recompute, one block's activations are alive at a time. Freeing them after each
// block and allocating them again in the next one hands the pages back to the OS and
// faults every one of them in again on first touch (docs/results/recompute.md: page faults
// and time per step, measured). Instead, a block swaps its (empty) buffers
// with the stash's before its forward and swaps them back after: the next block finds
// buffers of the right capacity and touches no new page.
//
// Every layer visits its saved buffers in a fixed order, so the i-th Tensor visited is the
// same role in every block of a model; a buffer that is too small is grown by resize() as
// usual, so models of different shapes can share one stash.
#include <cstddef>
#include <vector>

#include "core/bf16.h"
#include "core/tensor.h"

namespace tg {

// Storage only: its contents are whatever the last block left there.
struct SavedStash {
  std::vector<Tensor> tensors;
  std::vector<Bf16Buffer> bf16;
};

// One pass over a block's saved buffers: the k-th visited Tensor (or Bf16Buffer) trades
// places with the stash's k-th. A second pass in the same order trades them back.
class SavedSwap {
 public:
  explicit SavedSwap(SavedStash& stash) : stash_(stash) {}
  void operator()(Tensor& t) { swap_at(stash_.tensors, next_tensor_++, t); }
  void operator()(Bf16Buffer& b) { swap_at(stash_.bf16, next_bf16_++, b); }

 private:
  template <class Buffer>
  static void swap_at(std::vector<Buffer>& slots, std::size_t k, Buffer& b) {
    if (k == slots.size()) slots.emplace_back();
    std::swap(slots[k], b);
  }
  SavedStash& stash_;
  std::size_t next_tensor_ = 0, next_bf16_ = 0;
};

}  // namespace tg
