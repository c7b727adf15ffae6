#include "core/engine.h"

#include "core/error.h"

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
// C = alpha * product + beta * C: an output scale and a sum post-op (none when 1 and 0).
dnnl::primitive_attr scale_and_sum(float alpha, float beta) {
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  return attr;
}

// C = beta * C: the product over an empty inner dimension is zero, and oneDNN rejects k = 0.
void scale_output(const MatmulOutput& c, int64_t m, int64_t n, float beta, int64_t batch) {
  for (int64_t g = 0; g < batch; ++g)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& x = c.data[g * c.batch_stride + i * c.ld + j];
        x = beta == 0.0f ? 0.0f : beta * x;
      }
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
  try {  // a 1 x 1 bf16 product: does this CPU have the kernels?
    const dnnl::memory::desc one(dims{1, 1}, dt::bf16, dims{1, 1}), out(dims{1, 1}, dt::f32, dims{1, 1});
    dnnl::matmul::primitive_desc(dnnl::matmul::desc(one, one, out), engine_);
    supports_bf16_ = true;
  } catch (const dnnl::error&) {
    supports_bf16_ = false;
  }
}

dnnl::matmul::primitive_desc Engine::matmul_desc(const dnnl::matmul::desc& desc, const dnnl::primitive_attr& attr,
                                                 bool bf16_inputs) const {
  if (bf16_inputs && !supports_bf16_)
    throw UserError("precision \"bf16\": oneDNN has no bf16 matmul on this CPU (it needs AVX-512, avx512_core or "
                    "newer, which this CPU lacks); use \"precision\": \"fp32\"");
  return dnnl::matmul::primitive_desc(desc, attr, engine_);
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
  const dnnl::primitive_attr attr = scale_and_sum(key.alpha, key.beta);
  const dnnl::matmul::primitive_desc pd = matmul_desc(dnnl::matmul::desc(entry.a, entry.b, entry.c), attr, key.bf16_inputs);
  entry.primitive = dnnl::matmul(pd);
  return matmuls_.emplace(key, std::move(entry)).first->second;
}

Engine::CachedWeightMatmul& Engine::weight_matmul_for(const MatmulKey& key) {
  auto it = weight_matmuls_.find(key);
  if (it != weight_matmuls_.end()) return it->second;
  const dt in = key.bf16_inputs ? dt::bf16 : dt::f32;
  const int64_t m = key.m, n = key.n, k = key.k;
  // Two-dimensional descriptors: for a batch of one (three dimensions), oneDNN 2.6 resolves
  // format_tag::any to the plain layout and nothing is gained.
  auto matrix_2d = [](int64_t rows, int64_t cols, bool transposed, dt type) -> dnnl::memory::desc {
    return transposed ? dnnl::memory::desc(dims{cols, rows}, type, dims{1, cols})
                      : dnnl::memory::desc(dims{rows, cols}, type, dims{cols, 1});
  };
  CachedWeightMatmul entry;
  entry.a = key.trans_a ? matrix_2d(k, m, true, in) : matrix_2d(m, k, false, in);
  entry.w = key.trans_b ? matrix_2d(n, k, true, dt::f32) : matrix_2d(k, n, false, dt::f32);
  entry.c = matrix_2d(m, n, false, dt::f32);
  const dnnl::primitive_attr attr = scale_and_sum(key.alpha, key.beta);
  // format_tag::any: oneDNN picks the weights layout its kernel reads fastest.
  const dnnl::memory::desc any_w(dims{k, n}, in, dnnl::memory::format_tag::any);
  const dnnl::matmul::primitive_desc pd = matmul_desc(dnnl::matmul::desc(entry.a, any_w, entry.c), attr, key.bf16_inputs);
  entry.packed = pd.weights_desc();
  entry.primitive = dnnl::matmul(pd);
  entry.pack = dnnl::reorder(dnnl::reorder::primitive_desc(engine_, entry.w, engine_, entry.packed));
  return weight_matmuls_.emplace(key, std::move(entry)).first->second;
}

void Engine::matmul_weight(MatmulInput a, Trans trans_a, const float* w, Trans trans_w, float* c, int64_t m,
                           int64_t n, int64_t k, float alpha, float beta) {
  count_flops(m, n, k, 1);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_output(MatmulOutput{c, n, m * n}, m, n, beta, 1);
  const bool bf16_inputs = a.b16 != nullptr;
  auto& mm = weight_matmul_for({1, m, n, k, trans_a == Trans::Yes, trans_w == Trans::Yes, alpha, beta, bf16_inputs,
                                0, 0, 0, 0, 0, 0});
  // oneDNN takes non-const handles but does not write to the inputs.
  dnnl::memory w_mem(mm.w, engine_, const_cast<float*>(w));
  dnnl::memory packed_mem = w_mem;
  if (mm.packed != mm.w) {  // else oneDNN reads the float32 W as it is stored: nothing to copy
    const size_t bytes = mm.packed.get_size();
    if (bytes > packed_weight_bytes_) {
      packed_weight_.reset(static_cast<std::byte*>(::operator new[](bytes, std::align_val_t(64))));
      packed_weight_bytes_ = bytes;
    }
    packed_mem = dnnl::memory(mm.packed, engine_, packed_weight_.get());
    mm.pack.execute(stream_, w_mem, packed_mem);
  }
  const void* a_ptr = bf16_inputs ? static_cast<const void*>(a.b16) : a.f32;
  dnnl::memory a_mem(mm.a, engine_, const_cast<void*>(a_ptr));
  dnnl::memory c_mem(mm.c, engine_, c);
  mm.primitive.execute(stream_, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, packed_mem}, {DNNL_ARG_DST, c_mem}});
  stream_.wait();
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
  count_flops(m, n, k, batch);
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_output(c, m, n, beta, batch);
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
