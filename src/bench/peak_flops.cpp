#include "bench/peak_flops.h"

#include "core/error.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace tg {

double measure_peak_gflops(Engine& engine, MatmulType type, int64_t size, int reps) {
  if (type == MatmulType::BF16 && !engine.supports_bf16())
    throw UserError("bf16 peak: oneDNN has no bf16 matmul on this CPU (it needs AVX-512, avx512_core or newer)");
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const dt in_type = type == MatmulType::BF16 ? dt::bf16 : dt::f32;
  const dnnl::memory::dims square{size, size};
  const dnnl::memory::desc a_desc(square, in_type, tag::ab), b_desc(square, in_type, tag::ab),
      c_desc(square, dt::f32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_desc, b_desc, c_desc), engine.dnnl_engine());
  dnnl::matmul matmul(pd);
  dnnl::memory a(a_desc, engine.dnnl_engine()), b(b_desc, engine.dnnl_engine()), c(c_desc, engine.dnnl_engine());
  // Contents do not change the speed, but uninitialised memory may hold denormals or NaNs.
  for (dnnl::memory* m : {&a, &b})
    std::fill_n(static_cast<unsigned char*>(m->get_data_handle()), m->get_desc().get_size(), 0x3c);
  dnnl::stream& stream = engine.dnnl_stream();
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::min(best, s);  // r == 0 warms caches and the JIT kernel
  }
  const double flops = 2.0 * static_cast<double>(size) * static_cast<double>(size) * static_cast<double>(size);
  return flops / best / 1e9;
}

}  // namespace tg
