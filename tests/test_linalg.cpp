// matmul / addmm / linear: hand-computed products, strided operands, thread-count independence, and bad
// arguments; the float64 gradient checks and the comparisons with torch's float64 are entries of the op table
// (tests/ops/nn.def).
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "kernels/gemm/gemm.h"
#include "kernels/ops.h"
#include "tensor/parallel.h"

using namespace mrc;
using namespace mrc::test;

namespace {
using VD = std::vector<double>;

// Plain triple loop on float64 copies: the reference for the strided cases.
std::vector<double> naive_mm(const Tensor& a, const Tensor& b) {
  const Tensor ac = a.to(DType::Float64).contiguous(), bc = b.to(DType::Float64).contiguous();
  const auto av = ac.to_vector<double>(), bv = bc.to_vector<double>();
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<double> c(size_t(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) c[size_t(i * n + j)] += av[size_t(i * k + p)] * bv[size_t(p * n + j)];
  return c;
}
}  // namespace

TEST_CASE("matmul by hand: 2-D, 1-D and batched") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}), b = f64({1, 0, 0, 1, 2, -1}, {3, 2});
  // [[1 2 3] [4 5 6]] @ [[1 0] [0 1] [2 -1]] = [[7 -1] [16 -1]]
  CHECK(matmul(a, b).to_vector<double>() == VD{7, -1, 16, -1});
  CHECK(matmul(a, f64({1, 1, 1}, {3})).to_vector<double>() == VD{6, 15});
  CHECK(matmul(f64({1, -1}, {2}), a).to_vector<double>() == VD{-3, -3, -3});
  const Tensor dot = matmul(f64({1, 2, 3}, {3}), f64({4, 5, 6}, {3}));
  CHECK(dot.dim() == 0);
  CHECK(dot.item<double>() == 32);
  // batch of 2 with the second operand broadcast: [2, 2, 3] @ [3, 2]
  const Tensor ab = stack({a, a * 2.0});
  CHECK(matmul(ab, b).to_vector<double>() == VD{7, -1, 16, -1, 14, -2, 32, -2});
  CHECK(matmul(ab, stack({b, b * -1.0})).shape() == Shape{2, 2, 2});
  CHECK(matmul(ab, stack({b, b * -1.0})).to_vector<double>() == VD{7, -1, 16, -1, -14, 2, -32, 2});
  // addmm and linear
  CHECK(addmm(f64({10, 20}, {2}), a, b).to_vector<double>() == VD{17, 19, 26, 19});
  CHECK(linear(f64({1, 1, 1}, {3}), a, f64({0.5, -0.5}, {2})).to_vector<double>() == VD{6.5, 14.5});
  CHECK(matmul(Tensor::zeros({2, 0}, DType::Float64), Tensor::zeros({0, 3}, DType::Float64)).to_vector<double>() == VD(6, 0.0));
}

TEST_CASE("matmul reads transposed, sliced and broadcast operands") {
  Generator gen(11);
  const Tensor big_a = Tensor::randn({9, 12}, &gen), big_b = Tensor::randn({12, 10}, &gen);
  const std::vector<std::pair<Tensor, Tensor>> cases = {
      {big_a.t().narrow(0, 2, 5), big_b.narrow(0, 0, 9).narrow(1, 1, 7)},  // column-major a (ld 12), sliced b
      {big_a.narrow(1, 3, 6), big_b.t().narrow(1, 2, 6).t()},             // sliced row-major a, column-major b
      {big_a.slice(1, 0, 12, 2), big_b.narrow(0, 0, 6)},             // a with column stride 2: copied
      {big_a.narrow(0, 0, 1), big_b},                                // one row
  };
  for (const auto& [a, b] : cases) {
    const Tensor c = matmul(a, b);
    const auto want = naive_mm(a, b);
    const auto got = c.to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
  // broadcast batch with stride 0 and a batch that cannot be collapsed (copied)
  const Tensor a4 = Tensor::randn({2, 1, 3, 4}, &gen), b3 = Tensor::randn({5, 4, 2}, &gen);
  const Tensor c = matmul(a4, b3);
  REQUIRE(c.shape() == Shape{2, 5, 3, 2});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      const auto want = naive_mm(a4[i][0], b3[j]);
      const auto got = c[i][j].to_vector<double>();
      for (size_t e = 0; e < got.size(); ++e) CHECK(got[e] == doctest::Approx(want[e]).epsilon(1e-5));
    }
}

TEST_CASE("a large GEMM gives the same bits with 1 and 2 threads") {
  Generator gen(3);
  const Tensor a = Tensor::randn({200, 150}, &gen), b = Tensor::randn({150, 260}, &gen);
  const int saved = num_threads();
  set_num_threads(1);
  const auto c1 = matmul(a, b).to_vector<float>();
  set_num_threads(2);
  const auto c2 = matmul(a, b).to_vector<float>();
  set_num_threads(saved);
  CHECK(c1 == c2);
  const auto want = naive_mm(a, b);
  double worst = 0;
  for (size_t i = 0; i < c1.size(); ++i) worst = std::max(worst, std::abs(c1[i] - want[i]));
  CHECK(worst < 1e-3);
}

TEST_CASE("matmul and linear reject bad arguments") {
  const Tensor a = Tensor::ones({2, 3}), b = Tensor::ones({4, 2});
  CHECK_THROWS_WITH_AS(matmul(a, b), doctest::Contains("matmul: a [2, 3] and b [4, 2] cannot be multiplied"), std::invalid_argument);
  CHECK_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), doctest::Contains("[4, 5]"));
  CHECK_THROWS_WITH_AS(matmul(a, Tensor::ones({3, 2}, DType::Float64)), doctest::Contains("matmul: b has dtype float64"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor::ones({2, 3}, DType::Int64), Tensor::ones({3, 2}, DType::Int64)),
                       doctest::Contains("matmul: a must be float32 or float64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 1})), doctest::Contains("matmul: batch dims"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(Tensor::scalar(1), a), doctest::Contains("matmul: both arguments need at least 1 dim"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(linear(a, Tensor::ones({5, 4})), doctest::Contains("linear: x has shape [2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(linear(a, Tensor::ones({5, 3}), Tensor::ones({4})), doctest::Contains("linear: b must have shape [5]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(addmm(Tensor::ones({3}), a, Tensor::ones({3, 2})), doctest::Contains("addmm: bias of shape [3]"),
                       std::invalid_argument);
}
