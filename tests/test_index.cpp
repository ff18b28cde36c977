// Indexing ops: hand-computed values and the errors for bad arguments; the float64 gradient checks and the
// torch comparisons are entries of the op table (tests/ops/index.def, views.def).
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/parallel.h"

using namespace mrc;
using namespace mrc::test;

namespace {
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor u8(const std::vector<uint8_t>& v, const Shape& s) { return Tensor::from_vector(v, s); }
using VD = std::vector<double>;
using VI = std::vector<int64_t>;
}  // namespace

TEST_CASE("index_select, gather, scatter_add by hand") {
  const Tensor x = f64({0, 1, 2, 3, 4, 5}, {2, 3});  // [[0 1 2] [3 4 5]]
  CHECK(index_select(x, 1, i64({2, 0, 2}, {3})).to_vector<double>() == VD{2, 0, 2, 5, 3, 5});
  CHECK(index_select(x, 0, i64({1}, {1})).to_vector<double>() == VD{3, 4, 5});
  CHECK(index_select(x, 0, i64({}, {0})).shape() == Shape{0, 3});
  // gather along 1 with a narrower index: out[i][j] = x[i][idx[i][j]]
  CHECK(gather(x, 1, i64({1, 1, 0, 2}, {2, 2})).to_vector<double>() == VD{1, 1, 3, 5});
  // along 0 with a shorter last dim: out[i][j] = x[idx[i][j]][j]
  CHECK(gather(x, 0, i64({1, 0}, {1, 2})).to_vector<double>() == VD{3, 1});
  // scatter_add with repeated targets: row 0 gets src[0] + src[2], row 1 gets src[1]
  const Tensor sa = scatter_add(Tensor::zeros({2, 2}, DType::Float64), 0, i64({0, 0, 1, 1, 0, 1}, {3, 2}), f64({1, 2, 10, 20, 100, 200}, {3, 2}));
  CHECK(sa.to_vector<double>() == VD{101, 2, 10, 220});
  // index narrower than src: only src[:, :1] is used
  CHECK(scatter_add(f64({1, 1, 1}, {1, 3}), 1, i64({2}, {1, 1}), f64({5, 7}, {1, 2})).to_vector<double>() == VD{1, 1, 6});
}

TEST_CASE("index_add, index_copy, nonzero, boolean_mask, masked_fill by hand") {
  const Tensor x = f64({0, 1, 2, 3, 4, 5}, {3, 2});
  CHECK(index_add(x, 0, i64({2, 2, 0}, {3}), f64({1, 1, 10, 10, 100, 100}, {3, 2})).to_vector<double>() ==
        VD{100, 101, 2, 3, 15, 16});
  CHECK(index_copy(x, 0, i64({2, 0}, {2}), f64({-1, -2, -3, -4}, {2, 2})).to_vector<double>() == VD{-3, -4, 2, 3, -1, -2});
  const Tensor nz = nonzero(f64({0, 3, 0, 0, 7, -1}, {2, 3}));
  CHECK(nz.shape() == Shape{3, 2});
  CHECK(nz.to_vector<int64_t>() == VI{0, 1, 1, 1, 1, 2});
  CHECK(nonzero(Tensor::zeros({4}, DType::UInt8)).shape() == Shape{0, 1});
  CHECK(boolean_mask(x, u8({1, 0, 1}, {3})).to_vector<double>() == VD{0, 1, 4, 5});
  CHECK(boolean_mask(x, u8({0, 0, 0}, {3})).shape() == Shape{0, 2});
  CHECK(masked_fill(x, u8({0, 1}, {2}), -9).to_vector<double>() == VD{0, -9, 2, -9, 4, -9});
}

TEST_CASE("cat, stack, split, chunk by hand") {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6}, {2, 1});
  const Tensor c = cat({a, b}, 1);
  CHECK(c.shape() == Shape{2, 3});
  CHECK(c.to_vector<double>() == VD{1, 2, 5, 3, 4, 6});
  CHECK(cat({a, Tensor::empty({0}, DType::Float64), a}, 0).to_vector<double>() == VD{1, 2, 3, 4, 1, 2, 3, 4});
  const Tensor s = stack({a, a * 10.0}, 2);
  CHECK(s.shape() == Shape{2, 2, 2});
  CHECK(s.to_vector<double>() == VD{1, 10, 2, 20, 3, 30, 4, 40});
  CHECK(stack({a, a}, -1).shape() == Shape{2, 2, 2});
  const Tensor r = Tensor::arange(7).to(DType::Float64);
  auto parts = split(r, 3);
  REQUIRE(parts.size() == 3);
  CHECK(parts[2].to_vector<double>() == VD{6});
  CHECK(parts[1].storage() == r.storage());  // a view
  auto sized = split(r, std::vector<int64_t>{2, 0, 5});
  REQUIRE(sized.size() == 3);
  CHECK(sized[1].numel() == 0);
  CHECK(sized[2].to_vector<double>() == VD{2, 3, 4, 5, 6});
  CHECK(split_with_sizes(r, {7}).size() == 1);
  auto ch = chunk(r, 4);  // ceil(7/4) = 2 -> sizes 2,2,2,1
  REQUIRE(ch.size() == 4);
  CHECK(ch[3].to_vector<double>() == VD{6});
  CHECK(chunk(Tensor::arange(6), 4).size() == 3);  // as torch: sizes 2,2,2
}

TEST_CASE("scatter_add and index_add give the same bits with 1 and 2 threads") {
  Generator gen(7);
  const Tensor src = Tensor::randn({5000, 8}, &gen);
  const Tensor idx = Tensor::randint(0, 3, {5000, 8}, &gen);
  const Tensor idx1 = Tensor::randint(0, 3, {5000}, &gen);
  const int saved = num_threads();
  set_num_threads(1);
  const auto s1 = scatter_add(Tensor::zeros({3, 8}), 0, idx, src).to_vector<float>();
  const auto a1 = index_add(Tensor::zeros({3, 8}), 0, idx1, src).to_vector<float>();
  set_num_threads(2);
  const auto s2 = scatter_add(Tensor::zeros({3, 8}), 0, idx, src).to_vector<float>();
  const auto a2 = index_add(Tensor::zeros({3, 8}), 0, idx1, src).to_vector<float>();
  set_num_threads(saved);
  CHECK(s1 == s2);
  CHECK(a1 == a2);
}

// The gradient checks and torch comparisons of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("indexing ops reject bad arguments") {
  const Tensor x = Tensor::ones({3, 4});
  const Tensor idx = i64({0, 1}, {2});
  CHECK_THROWS_WITH_AS(index_select(x, 0, Tensor::ones({2})), doctest::Contains("index_select: index must be int64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({3}, {1})), doctest::Contains("index_select: index 3 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather(x, 1, idx), doctest::Contains("gather: index has 1 dims"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({-1}, {1, 1})), doctest::Contains("gather: index -1"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, i64({0, 0}, {1, 2}), Tensor::ones({1, 2}, DType::Float64)),
                       doctest::Contains("scatter_add: dtype"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, i64({0, 0, 0}, {1, 3}), Tensor::ones({1, 2})),
                       doctest::Contains("scatter_add: index shape [1, 3] exceeds src"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(index_add(x, 0, idx, Tensor::ones({2, 3})), doctest::Contains("index_add: src has shape [2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cat({x, Tensor::ones({3, 5})}, 0), doctest::Contains("cat: tensors[1] has shape [3, 5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cat({x, Tensor::ones({3, 4}, DType::Float64)}, 0), doctest::Contains("cat: tensors[1] has dtype float64"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cat({}, 0), doctest::Contains("cat: needs at least one"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(stack({x, Tensor::ones({4, 3})}), doctest::Contains("stack: tensors[1] has shape"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(split(x, std::vector<int64_t>{1, 1}, 0), doctest::Contains("split: sizes add up to 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(boolean_mask(x, u8({1, 0}, {2})), doctest::Contains("boolean_mask: mask must be 1-D of length 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(boolean_mask(x, i64({1, 0, 1}, {3})), doctest::Contains("boolean_mask: mask must be uint8"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(masked_fill(x, u8({1, 0, 1}, {3}), 0), doctest::Contains("masked_fill: mask of shape [3]"), std::invalid_argument);
  CHECK_THROWS_AS(index_select(x, 2, idx), std::out_of_range);
}
