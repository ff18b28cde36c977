// Autograd engine: accumulation across uses, topological order, no-grad, detach, and its errors; checks of
// gradcheck itself (the ops' gradient checks are entries of the op table, tests/ops/*.def).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "gradcheck.h"
#include "kernels/ops.h"

using namespace mrc;
using test::gradcheck;
using test::rand_leaf;
using test::rand_leaf_transposed;

TEST_CASE("gradient accumulates across uses and calls") {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  Tensor y = sum(mul(x, x) + x * 3.0);  // dy/dx = 2x + 3
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 7, 9});
  sum(x).backward();  // accumulates
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 8, 10});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("diamond graph runs each node once with the summed gradient") {
  Tensor x = Tensor::from_vector(std::vector<double>{0.5, -1.0}).requires_grad_();
  Tensor a = exp(x);
  Tensor b = mul(a, a);
  Tensor c = add(a, b);  // a + a^2, da/dx = a
  sum(c).backward();
  auto xv = x.detach().to_vector<double>();
  auto g = x.grad().to_vector<double>();
  for (size_t i = 0; i < 2; ++i) {
    const double e = std::exp(xv[i]);
    CHECK(g[i] == doctest::Approx(e + 2 * e * e).epsilon(1e-12));
  }
}

TEST_CASE("no-grad scope, detach and requires_grad propagation") {
  Tensor x = Tensor::ones({2}, DType::Float64).requires_grad_();
  Tensor y = mul(x, 2.0);
  CHECK(y.requires_grad());
  CHECK(!y.is_leaf());
  {
    NoGradGuard ng;
    Tensor z = mul(x, 2.0);
    CHECK(!z.requires_grad());
  }
  Tensor d = y.detach();
  CHECK(!d.requires_grad());
  CHECK(d.storage() == y.storage());
  Tensor w = Tensor::ones({2}, DType::Float64);
  CHECK(!add(w, w).requires_grad());
}

TEST_CASE("clear errors") {
  Tensor x = Tensor::ones({3}, DType::Float64).requires_grad_();
  SUBCASE("non-scalar root without gradient") {
    Tensor y = mul(x, 2.0);
    CHECK_THROWS_WITH(y.backward(), doctest::Contains("one-element outputs"));
  }
  SUBCASE("backward through a freed graph") {
    Tensor y = sum(exp(x));
    y.backward();
    CHECK_THROWS_WITH(y.backward(), doctest::Contains("second time"));
    Tensor z = sum(exp(x));
    z.backward(Tensor(), /*retain_graph=*/true);
    CHECK_NOTHROW(z.backward());
  }
  SUBCASE("in-place change of a saved tensor") {
    Tensor a = Tensor::ones({3}, DType::Float64);
    Tensor y = sum(mul(x, a));  // saves a
    a.fill_(2);
    CHECK_THROWS_WITH(y.backward(), doctest::Contains("modified by an in-place operation"));
  }
  SUBCASE("in-place on a leaf that requires grad") { CHECK_THROWS_AS(x.fill_(0), std::logic_error); }
  SUBCASE("shape mismatch") {
    CHECK_THROWS_WITH(add(Tensor::ones({2, 3}), Tensor::ones({4})), doctest::Contains("cannot be broadcast"));
  }
  SUBCASE("dtype mismatch") {
    CHECK_THROWS_WITH(add(Tensor::ones({2}), Tensor::ones({2}, DType::Float64)), doctest::Contains("dtype mismatch"));
  }
}

// The gradient checks of the elementwise ops, reductions and views are entries of the op table (tests/ops/*.def,
// test_op_table).

// The layout runs of gradcheck must catch kernels that ignore strides. Two deliberately broken ops, each
// correct on a contiguous tensor at offset 0: the checks must fail (doctest::should_fail).
namespace {
// Forward reads the storage from its start as if x were contiguous at offset 0.
Tensor layout_blind_copy(const Tensor& x) {
  Tensor out = Tensor::zeros(x.shape(), x.dtype());
  std::memcpy(out.raw_data(), x.storage()->data(), std::min(size_t(x.numel()) * sizeof(double), x.storage()->nbytes()));
  return record(out, {x}, "layout_blind_copy", [](const Tensor& g) -> std::vector<Tensor> { return {g.contiguous()}; });
}
// Backward reads the incoming gradient from its storage's start, as if it were contiguous at offset 0.
Tensor upstream_blind_double(const Tensor& x) {
  const Shape shape = x.shape();
  return record(mul(x.detach(), 2.0), {x}, "upstream_blind_double", [shape](const Tensor& g) -> std::vector<Tensor> {
    Tensor out = Tensor::zeros(shape, DType::Float64);
    const double* src = static_cast<const double*>(g.storage()->data());
    double* dst = out.data<double>();
    const int64_t n = std::min(out.numel(), int64_t(g.storage()->nbytes() / sizeof(double)));
    for (int64_t i = 0; i < n; ++i) dst[i] = 2 * src[i];
    return {out};
  });
}
}  // namespace

TEST_CASE("gradcheck catches a forward that ignores the input's offset and strides" * doctest::should_fail()) {
  Generator gen(11);
  gradcheck([](const std::vector<Tensor>& v) { return layout_blind_copy(v[0]); }, {rand_leaf({3, 4}, gen)});
}

TEST_CASE("gradcheck catches a backward that ignores the incoming gradient's strides" * doctest::should_fail()) {
  Generator gen(12);
  gradcheck([](const std::vector<Tensor>& v) { return upstream_blind_double(v[0]); }, {rand_leaf({3, 4}, gen)});
}

TEST_CASE("reductions: values") {
  Tensor x = Tensor::from_vector(std::vector<float>{3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
  CHECK(sum(x).item<float>() == 31.f);
  CHECK(sum(x, {1}).to_vector<float>() == std::vector<float>{9, 22});
  CHECK(mean(x, {0}).to_vector<float>() == std::vector<float>{4, 5, 3, 3.5});
  auto [v, i] = max(x, 1);
  CHECK(v.to_vector<float>() == std::vector<float>{4, 9});
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{2, 1});
  CHECK(argmin(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 2});  // first of the tied 1s
  CHECK(count_nonzero(gt(x, 3.0)) == 4);
  CHECK(sum(Tensor::zeros({0, 3}), {0}).to_vector<float>() == std::vector<float>{0, 0, 0});
}
