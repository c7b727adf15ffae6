// Tensor: shapes, copies and moves.
#include <catch2/catch.hpp>

#include <utility>

#include "core/tensor.h"

using namespace tg;

TEST_CASE("A moved-from Tensor is empty and can be resized and written again", "[tensor]") {
  Tensor a({4, 8});
  a.fill(1.5f);
  const float* storage = a.data();
  Tensor b(std::move(a));
  REQUIRE(b.data() == storage);  // the storage moved, not copied
  REQUIRE(b.numel() == 32);
  REQUIRE(b[31] == 1.5f);
  // Moved-from is the default-constructed state: no shape, no elements, no storage.
  REQUIRE(a.numel() == 0);
  REQUIRE(a.shape().empty());
  REQUIRE(a.data() == nullptr);
  // Smaller than the old capacity: a moved-from tensor that kept its capacity would
  // skip the allocation and write through a null pointer here.
  a.resize({2, 3});
  REQUIRE(a.data() != nullptr);
  a.fill(2.0f);
  REQUIRE(a[5] == 2.0f);

  Tensor c({3});
  c = std::move(b);
  REQUIRE(c.numel() == 32);
  REQUIRE(b.numel() == 0);
  REQUIRE(b.data() == nullptr);
  b.resize({1});
  b.zero();
  REQUIRE(b[0] == 0.0f);
}
