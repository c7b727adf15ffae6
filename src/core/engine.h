#pragma once
// The oneDNN engine and stream, and the matmul primitives built on them.
//
// A matmul primitive is created the first time its description (shapes, transposes,
// strides, alpha, beta, precision) is seen and reused on every later call; a training step
// runs the same few dozen descriptions again and again, so after step one no primitive is
// built. Weight matmuls (matmul_weight) have their own cache: their primitive reads the
// weight in a layout of oneDNN's choosing and comes with the reorder that produces it.
#include <cstdint>
#include <cstddef>
#include <map>
#include <memory>
#include <new>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/bf16.h"
#include "core/precision.h"
#include "core/part_timer.h"
#include "core/workspace.h"

namespace tg {

enum class Trans { No, Yes };

// One input of a strided batched matmul: `batch` matrices, the i-th starting
// batch_stride elements after the (i-1)-th, each row-major with `ld` elements from one
// stored row to the next. The stored shape follows `trans` as in the dense overloads.
// Views into a larger matrix (a block of rows and columns) are expressed this way.
struct MatmulOperand {
  MatmulInput data;
  Trans trans = Trans::No;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};
// The float32 result of a strided batched matmul, laid out as a MatmulOperand.
struct MatmulOutput {
  float* data = nullptr;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

// 2 FLOPs per multiply-add: a product of op(A) m x k and op(B) k x n adds 2 m n k per
// problem of its batch (k = 0 adds nothing: no product is formed).
struct MatmulFlopCounter {
  int64_t flops = 0;
};

class Engine {
 public:
  // threads <= 0 keeps the OpenMP default (OMP_NUM_THREADS or all cores).
  explicit Engine(int threads = 0);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Whether oneDNN runs bf16 matmuls on this CPU (2.6 needs AVX-512: avx512_core or
  // newer). Without, the first bf16 matmul throws a UserError that says so.
  bool supports_bf16() const { return supports_bf16_; }

  // Row-major, for each of `batch` contiguous problems:
  //   C (m x n) = alpha * op(A) op(B) + beta * C
  // op(A) is m x k: A is stored m x k (Trans::No) or k x m (Trans::Yes);
  // op(B) is k x n: B is stored k x n (Trans::No) or n x k (Trans::Yes).
  void matmul(const float* a, Trans trans_a, const float* b, Trans trans_b, float* c,
              int64_t m, int64_t n, int64_t k, float alpha = 1.0f, float beta = 0.0f,
              int64_t batch = 1);
  // float32 or bf16 inputs, by the inputs' precision (both must have the same). bf16:
  // products and sums in float32, C in float32 (oneDNN's avx512_core_bf16 / AMX kernels).
  void matmul(MatmulInput a, Trans trans_a, MatmulInput b, Trans trans_b, float* c,
              int64_t m, int64_t n, int64_t k, float alpha = 1.0f, float beta = 0.0f,
              int64_t batch = 1);
  // The same on strided views: C = alpha * op(A) op(B) + beta * C, op(A) m x k, op(B) k x n.
  void matmul(const MatmulOperand& a, const MatmulOperand& b, const MatmulOutput& c, int64_t m, int64_t n,
              int64_t k, float alpha = 1.0f, float beta = 0.0f, int64_t batch = 1);

  // C (m x n) = alpha * op(A) op(W) + beta * C for one problem whose B operand is a float32
  // weight matrix W (stored k x n, or n x k with Trans::Yes). W is first reordered into the
  // blocked layout the matmul kernel prefers, in A's precision (bf16 A: W is rounded to
  // bf16 in the same pass), so the kernel does not repack a plain W block by block on
  // every thread: 10-20% faster on config A's shapes (docs/bench.md). The packed copy
  // lives in one engine-owned buffer, rewritten by each call.
  void matmul_weight(MatmulInput a, Trans trans_a, const float* w, Trans trans_w, float* c, int64_t m, int64_t n,
                     int64_t k, float alpha = 1.0f, float beta = 0.0f);

  int threads() const { return threads_; }
  size_t cached_primitives() const { return matmuls_.size() + weight_matmuls_.size(); }
  dnnl::engine& dnnl_engine() { return engine_; }
  dnnl::stream& dnnl_stream() { return stream_; }

  // Per-part timing for `tokengrow bench`: layers open a PartScope on this timer.
  // Null (the default) disables timing.
  void set_part_timer(PartTimer* timer) { part_timer_ = timer; }
  PartTimer* part_timer() const { return part_timer_; }

  // FLOPs of every matmul this engine runs while a counter is set (null, the default:
  // nothing counted): what executes, to check the FLOP accounting (model/model_cost.h).
  void set_flop_counter(MatmulFlopCounter* counter) { flop_counter_ = counter; }

  // Buffers shared by whatever runs on this engine (e.g. the layers' backward scratch).
  Workspace& workspace() { return workspace_; }

 private:
  // Every field a primitive depends on. Weight matmuls are one dense problem: their
  // lds and strides follow from the shape and are left 0.
  struct MatmulKey {
    int64_t batch, m, n, k;
    bool trans_a, trans_b;
    float alpha, beta;
    bool bf16_inputs;
    int64_t lda, ldb, ldc, stride_a, stride_b, stride_c;
    auto operator<=>(const MatmulKey&) const = default;
  };
  struct CachedMatmul {
    dnnl::memory::desc a, b, c;
    dnnl::matmul primitive;
  };
  CachedMatmul& matmul_for(const MatmulKey& key);
  struct CachedWeightMatmul {
    dnnl::memory::desc a, w, packed, c;
    dnnl::reorder pack;  // plain float32 W -> packed W in A's precision
    dnnl::matmul primitive;
  };
  CachedWeightMatmul& weight_matmul_for(const MatmulKey& key);
  // A matmul primitive descriptor; bf16 on a CPU without bf16 kernels is a UserError.
  dnnl::matmul::primitive_desc matmul_desc(const dnnl::matmul::desc& desc, const dnnl::primitive_attr& attr,
                                           bool bf16_inputs) const;
  bool supports_bf16_ = false;
  void count_flops(int64_t m, int64_t n, int64_t k, int64_t batch) {
    if (flop_counter_) flop_counter_->flops += 2 * m * n * k * batch;
  }

  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::map<MatmulKey, CachedMatmul> matmuls_;
  std::map<MatmulKey, CachedWeightMatmul> weight_matmuls_;
  struct AlignedFree {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<std::byte[], AlignedFree> packed_weight_;  // grow-only
  size_t packed_weight_bytes_ = 0;
  PartTimer* part_timer_ = nullptr;
  MatmulFlopCounter* flop_counter_ = nullptr;
  Workspace workspace_;
};

// Sets flush-to-zero and denormals-are-zero on the calling thread and on every
// OpenMP worker: denormal floats are 100x slower and carry no useful signal here.
void flush_denormals_on_all_threads();

}  // namespace tg
