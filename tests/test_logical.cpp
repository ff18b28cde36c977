// logical_not / logical_and / logical_or: "!= 0" in each operand's own dtype (torch's rule), for every
// dtype, mixed dtypes, NaN, broadcasting and non-contiguous operands.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/ops.h"

using namespace mrc;

namespace {
using U8 = std::vector<uint8_t>;
U8 bits(const Tensor& t) {
  REQUIRE(t.dtype() == DType::UInt8);
  return t.to_vector<uint8_t>();
}
}  // namespace

TEST_CASE("logical ops test != 0 without a cast to uint8") {
  // 0.5 and -0.25 would be 0 after a cast to uint8; 256 and -256 wrap to 0; -1.5 to uint8 is undefined.
  const Tensor f = Tensor::from_vector(std::vector<float>{0.f, 0.5f, -0.25f, -1.5f, -0.f, 1e-30f});
  CHECK(bits(logical_not(f)) == U8{1, 0, 0, 0, 1, 0});
  const Tensor d = Tensor::from_vector(std::vector<double>{0.0, 0.5, -0.25, -1.5, -0.0, 1e-300});
  CHECK(bits(logical_not(d)) == U8{1, 0, 0, 0, 1, 0});
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{0, 256, -256, 1, int64_t(1) << 40, -1});
  CHECK(bits(logical_not(i)) == U8{1, 0, 0, 0, 0, 0});
  const Tensor i32 = Tensor::from_vector(std::vector<int32_t>{0, 256, -256, 512, 1, 0});
  CHECK(bits(logical_not(i32)) == U8{1, 0, 0, 0, 0, 1});
  const Tensor u = Tensor::from_vector(std::vector<uint8_t>{0, 1, 2, 255, 0, 7});
  CHECK(bits(logical_not(u)) == U8{1, 0, 0, 0, 1, 0});

  const Tensor zf = Tensor::from_vector(std::vector<float>{1.f, 0.f, 1.f, 1.f, 0.f, 1.f});
  CHECK(bits(logical_and(f, zf)) == U8{0, 0, 1, 1, 0, 1});
  CHECK(bits(logical_or(f, zf)) == U8{1, 1, 1, 1, 0, 1});
  const Tensor zi = Tensor::from_vector(std::vector<int64_t>{0, 256, 0, -512, 0, 3});
  CHECK(bits(logical_and(i, zi)) == U8{0, 1, 0, 1, 0, 1});
  CHECK(bits(logical_or(i, zi)) == U8{0, 1, 1, 1, 1, 1});
}

TEST_CASE("logical ops: NaN is true, mixed dtypes, broadcasting, strided operands") {
  const Tensor nan = Tensor::from_vector(std::vector<double>{NAN, 0.0});
  CHECK(bits(logical_not(nan)) == U8{0, 1});
  CHECK(bits(logical_and(nan, nan)) == U8{1, 0});

  // float32 against int64: each operand tested in its own dtype
  const Tensor f = Tensor::from_vector(std::vector<float>{0.5f, 0.f, -0.25f, 0.f});
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{256, 256, 0, 0});
  CHECK(bits(logical_and(f, i)) == U8{1, 0, 0, 0});
  CHECK(bits(logical_or(i, f)) == U8{1, 1, 1, 0});

  // broadcast [2, 1] against [3], and a transposed (non-contiguous) operand
  const Tensor col = Tensor::from_vector(std::vector<double>{0.0, 0.75}, {2, 1});
  const Tensor row = Tensor::from_vector(std::vector<double>{-2.0, 0.0, 0.125});
  CHECK(bits(logical_or(col, row)) == U8{1, 0, 1, 1, 1, 1});
  CHECK(bits(logical_and(col, row)) == U8{0, 0, 0, 1, 0, 1});
  const Tensor m = Tensor::from_vector(std::vector<float>{0.f, 0.5f, 0.f, 0.25f, -3.f, 0.f}, {2, 3}).transpose(0, 1);
  REQUIRE(!m.is_contiguous());
  CHECK(bits(logical_not(m)) == U8{1, 0, 0, 0, 1, 1});  // m = [[0, .25], [.5, -3], [0, 0]]
  CHECK(bits(logical_not(m.slice(0, 0, 3, 2))) == U8{1, 0, 1, 1});
}
