#include "core/engine.h"

#include <omp.h>
#include <stdexcept>
#include <xmmintrin.h>
#include <pmmintrin.h>

namespace tg {

namespace {
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

// Memory descriptor of `batch` row-major matrices of rows x cols, optionally
// read transposed (so op(X) has shape cols x rows without copying).
dnnl::memory::desc matrix_desc(int64_t batch, int64_t rows, int64_t cols, bool transposed, dt type = dt::f32) {
  // Logical shape is op(X): (batch, r, c). Stored shape is (batch, rows, cols).
  if (!transposed) return {dims{batch, rows, cols}, type, dims{rows * cols, cols, 1}};
  return {dims{batch, cols, rows}, type, dims{rows * cols, 1, cols}};
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
  const auto [batch, m, n, k, trans_a, trans_b, alpha, beta, bf16_inputs] = key;
  const dt in = bf16_inputs ? dt::bf16 : dt::f32;
  CachedMatmul entry;
  entry.a = trans_a ? matrix_desc(batch, k, m, true, in) : matrix_desc(batch, m, k, false, in);
  entry.b = trans_b ? matrix_desc(batch, n, k, true, in) : matrix_desc(batch, k, n, false, in);
  entry.c = matrix_desc(batch, m, n, false);
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::desc desc(entry.a, entry.b, entry.c);
  dnnl::matmul::primitive_desc pd(desc, attr, engine_);
  entry.primitive = dnnl::matmul(pd);
  return matmuls_.emplace(key, std::move(entry)).first->second;
}

void Engine::matmul(const float* a, Trans trans_a, const float* b, Trans trans_b, float* c,
                    int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t batch) {
  run_matmul(a, trans_a, b, trans_b, c, m, n, k, alpha, beta, batch, false);
}

void Engine::matmul(MatmulInput a, Trans trans_a, MatmulInput b, Trans trans_b, float* c, int64_t m, int64_t n,
                    int64_t k, float alpha, float beta, int64_t batch) {
  const bool bf16_inputs = a.b16 != nullptr;
  if (bf16_inputs != (b.b16 != nullptr))
    throw std::logic_error("Engine::matmul: one input is bf16 and the other float32");
  if (bf16_inputs) run_matmul(a.b16, trans_a, b.b16, trans_b, c, m, n, k, alpha, beta, batch, true);
  else run_matmul(a.f32, trans_a, b.f32, trans_b, c, m, n, k, alpha, beta, batch, false);
}

void Engine::run_matmul(const void* a, Trans trans_a, const void* b, Trans trans_b, float* c, int64_t m,
                        int64_t n, int64_t k, float alpha, float beta, int64_t batch, bool bf16_inputs) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    // Empty inner dimension: op(A) op(B) is zero. oneDNN rejects zero-sized k.
    for (int64_t i = 0; i < batch * m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  auto& mm = matmul_for({batch, m, n, k, trans_a == Trans::Yes, trans_b == Trans::Yes, alpha, beta, bf16_inputs});
  // oneDNN takes non-const handles but does not write to the inputs.
  dnnl::memory a_mem(mm.a, engine_, const_cast<void*>(a));
  dnnl::memory b_mem(mm.b, engine_, const_cast<void*>(b));
  dnnl::memory c_mem(mm.c, engine_, c);
  mm.primitive.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  stream_.wait();
}

}  // namespace tg
