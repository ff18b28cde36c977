// sort / argsort / topk: hand-computed orders (ties, NaN) and bad arguments; the float64 gradient checks and
// the torch comparisons are entries of the op table (tests/ops/index.def).
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "kernels/ops.h"

using namespace mrc;
using namespace mrc::test;

namespace {
using VD = std::vector<double>;
using VI = std::vector<int64_t>;
}  // namespace

TEST_CASE("sort orders values, breaks ties by index and puts NaN last") {
  const Tensor x = f64({3, 1, 2, 1, 3, 0}, {6});
  auto [v, i] = sort(x);
  CHECK(v.to_vector<double>() == VD{0, 1, 1, 2, 3, 3});
  CHECK(i.to_vector<int64_t>() == VI{5, 1, 3, 2, 0, 4});
  auto [vd, id] = sort(x, 0, /*descending=*/true);
  CHECK(vd.to_vector<double>() == VD{3, 3, 2, 1, 1, 0});
  CHECK(id.to_vector<int64_t>() == VI{0, 4, 2, 1, 3, 5});  // equal values keep index order
  const Tensor n = f64({2, NAN, -1, 5}, {4});
  auto [vn, in] = sort(n);
  CHECK(in.to_vector<int64_t>() == VI{2, 0, 3, 1});
  CHECK(std::isnan(vn.to_vector<double>()[3]));
  CHECK(sort(n, 0, true).second.to_vector<int64_t>() == VI{1, 3, 0, 2});
  // along dim 0 of a 2-D tensor
  const Tensor m = f64({4, 1, 2, 5, 3, 0}, {3, 2});  // columns [4 2 3], [1 5 0]
  auto [vm, im] = sort(m, 0);
  CHECK(vm.to_vector<double>() == VD{2, 0, 3, 1, 4, 5});
  CHECK(im.to_vector<int64_t>() == VI{1, 2, 2, 0, 0, 1});
  CHECK(argsort(m, 1).to_vector<int64_t>() == VI{1, 0, 0, 1, 1, 0});
  // integers sort too
  CHECK(sort(Tensor::from_vector(std::vector<int64_t>{5, -2, 7})).first.to_vector<int64_t>() == VI{-2, 5, 7});
}

TEST_CASE("topk picks the k best, best first, ties by lower index") {
  const Tensor x = f64({1, 9, 3, 9, 7, 0}, {6});
  auto [v, i] = topk(x, 3);
  CHECK(v.to_vector<double>() == VD{9, 9, 7});
  CHECK(i.to_vector<int64_t>() == VI{1, 3, 4});
  auto [vs, is] = topk(x, 2, 0, /*largest=*/false);
  CHECK(vs.to_vector<double>() == VD{0, 1});
  CHECK(is.to_vector<int64_t>() == VI{5, 0});
  CHECK(topk(x, 0).first.shape() == Shape{0});
  const Tensor m = f64({1, 2, 3, 6, 5, 4}, {2, 3});
  CHECK(topk(m, 2, 1).second.to_vector<int64_t>() == VI{2, 1, 0, 1});
  CHECK(topk(m, 1, 0).first.to_vector<double>() == VD{6, 5, 4});
}

// The gradient checks and torch comparisons of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("sort and topk reject bad arguments") {
  const Tensor x = Tensor::ones({2, 3});
  CHECK_THROWS_WITH_AS(topk(x, 4, 1), doctest::Contains("topk: k = 4 is out of range"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(topk(x, -1, 1), doctest::Contains("topk: k = -1"), std::invalid_argument);
  CHECK_THROWS_AS(sort(x, 2), std::out_of_range);
}
