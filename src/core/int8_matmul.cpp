#include "core/int8_matmul.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace tg {

namespace {
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;

struct Int8MatmulKey {
  int64_t m, n, k;
  bool trans_b;
  auto operator<=>(const Int8MatmulKey&) const = default;
};

struct Int8Matmul {
  dnnl::memory::desc a, b, c;
  dnnl::matmul primitive;
};

// The engine-wide cache (Engine::workspace): primitives by shape.
struct Int8MatmulCache {
  std::map<Int8MatmulKey, Int8Matmul> entries;
};

Int8Matmul make_int8_matmul(dnnl::engine& engine, const Int8MatmulKey& key) {
  Int8Matmul mm;
  mm.a = dnnl::memory::desc(dims{key.m, key.k}, dt::s8, dims{key.k, 1});
  // op(B) is k x n; stored n x k it is read through strides (1, k).
  mm.b = key.trans_b ? dnnl::memory::desc(dims{key.k, key.n}, dt::s8, dims{1, key.k})
                     : dnnl::memory::desc(dims{key.k, key.n}, dt::s8, dims{key.n, 1});
  mm.c = dnnl::memory::desc(dims{key.m, key.n}, dt::s32, dims{key.n, 1});
  mm.primitive = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(mm.a, mm.b, mm.c), engine));
  return mm;
}
}  // namespace

void matmul_s8s8s32(Engine& engine, const int8_t* a, const int8_t* b, Trans trans_b, int32_t* c, int64_t m,
                    int64_t n, int64_t k) {
  if (m == 0 || n == 0) return;
  if (k == 0) return std::fill(c, c + m * n, 0);  // oneDNN rejects an empty inner dimension
  auto& cache = engine.workspace().get<Int8MatmulCache>().entries;
  const Int8MatmulKey key{m, n, k, trans_b == Trans::Yes};
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, make_int8_matmul(engine.dnnl_engine(), key)).first;
  Int8Matmul& mm = it->second;
  // oneDNN takes non-const handles but does not write to the inputs.
  dnnl::memory a_mem(mm.a, engine.dnnl_engine(), const_cast<int8_t*>(a));
  dnnl::memory b_mem(mm.b, engine.dnnl_engine(), const_cast<int8_t*>(b));
  dnnl::memory c_mem(mm.c, engine.dnnl_engine(), c);
  mm.primitive.execute(engine.dnnl_stream(), {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  engine.dnnl_stream().wait();
}

}  // namespace tg
