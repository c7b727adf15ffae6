#include "core/engine.h"

#include <omp.h>
#include <stdexcept>
#include <xmmintrin.h>
#include <pmmintrin.h>

namespace tg {

namespace {
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

// Memory descriptor of `batch` row-major matrices of rows x cols (ld elements between
// rows, batch_stride between matrices), optionally read transposed (so op(X) has shape
// cols x rows without copying).
dnnl::memory::desc matrix_desc(int64_t batch, int64_t rows, int64_t cols, bool transposed, dt type, int64_t ld,
                               int64_t batch_stride) {
  // Logical shape is op(X): (batch, r, c). Stored shape is (batch, rows, cols).
  if (!transposed) return {dims{batch, rows, cols}, type, dims{batch_stride, ld, 1}};
  return {dims{batch, cols, rows}, type, dims{batch_stride, 1, ld}};
}
}  // namespace

void flush_denormals_on_all_threads() {
  auto set = [] {
    _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
    _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
  };
  set();
#pragma omp parallel
  set();
}

Engine::Engine(int threads) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
  if (threads > 0) omp_set_num_threads(threads);
  threads_ = omp_get_max_threads();
  flush_denormals_on_all_threads();
}

Engine::CachedMatmul& Engine::matmul_for(const MatmulKey& key) {
  auto it = matmuls_.find(key);
  if (it != matmuls_.end()) return it->second;
  const dt in = key.bf16_inputs ? dt::bf16 : dt::f32;
  const int64_t batch = key.batch, m = key.m, n = key.n, k = key.k;
  CachedMatmul entry;
  entry.a = key.trans_a ? matrix_desc(batch, k, m, true, in, key.lda, key.stride_a)
                        : matrix_desc(batch, m, k, false, in, key.lda, key.stride_a);
  entry.b = key.trans_b ? matrix_desc(batch, n, k, true, in, key.ldb, key.stride_b)
                        : matrix_desc(batch, k, n, false, in, key.ldb, key.stride_b);
  entry.c = matrix_desc(batch, m, n, false, dt::f32, key.ldc, key.stride_c);
  dnnl::primitive_attr attr;
  if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(key.beta);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::desc desc(entry.a, entry.b, entry.c);
  dnnl::matmul::primitive_desc pd(desc, attr, engine_);
  entry.primitive = dnnl::matmul(pd);
  return matmuls_.emplace(key, std::move(entry)).first->second;
}

void Engine::matmul(const float* a, Trans trans_a, const float* b, Trans trans_b, float* c,
                    int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t batch) {
  matmul(MatmulInput{a, nullptr}, trans_a, MatmulInput{b, nullptr}, trans_b, c, m, n, k, alpha, beta, batch);
}

void Engine::matmul(MatmulInput a, Trans trans_a, MatmulInput b, Trans trans_b, float* c, int64_t m, int64_t n,
                    int64_t k, float alpha, float beta, int64_t batch) {
  // Dense: each stored matrix's rows are its column count apart, matrices back to back.
  const int64_t lda = trans_a == Trans::No ? k : m, ldb = trans_b == Trans::No ? n : k;
  matmul(MatmulOperand{a, trans_a, lda, m * k}, MatmulOperand{b, trans_b, ldb, k * n}, MatmulOutput{c, n, m * n}, m,
         n, k, alpha, beta, batch);
}

void Engine::matmul(const MatmulOperand& a, const MatmulOperand& b, const MatmulOutput& c, int64_t m, int64_t n,
                    int64_t k, float alpha, float beta, int64_t batch) {
  const bool bf16_inputs = a.data.b16 != nullptr;
  if (bf16_inputs != (b.data.b16 != nullptr))
    throw std::logic_error("Engine::matmul: one input is bf16 and the other float32");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // Empty inner dimension: op(A) op(B) is zero. oneDNN rejects zero-sized k.
    for (int64_t g = 0; g < batch; ++g)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          float& x = c.data[g * c.batch_stride + i * c.ld + j];
          x = beta == 0.0f ? 0.0f : beta * x;
        }
    return;
  }
  auto& mm = matmul_for({batch, m, n, k, a.trans == Trans::Yes, b.trans == Trans::Yes, alpha, beta, bf16_inputs,
                         a.ld, b.ld, c.ld, a.batch_stride, b.batch_stride, c.batch_stride});
  const void* a_ptr = bf16_inputs ? static_cast<const void*>(a.data.b16) : a.data.f32;
  const void* b_ptr = bf16_inputs ? static_cast<const void*>(b.data.b16) : b.data.f32;
  // oneDNN takes non-const handles but does not write to the inputs.
  dnnl::memory a_mem(mm.a, engine_, const_cast<void*>(a_ptr));
  dnnl::memory b_mem(mm.b, engine_, const_cast<void*>(b_ptr));
  dnnl::memory c_mem(mm.c, engine_, c.data);
  mm.primitive.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream_.wait();
}

}  // namespace tg
