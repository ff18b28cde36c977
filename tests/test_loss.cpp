// Losses: hand-computed values and bad arguments (gradient checks and torch parity: the op table,
// tests/ops/loss.def).
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/host_sync.h"

using namespace mrc;
using namespace mrc::test;

namespace {
using VD = std::vector<double>;
Tensor i64(const std::vector<int64_t>& v) { return Tensor::from_vector(v); }
}  // namespace

TEST_CASE("cross_entropy by hand") {
  const Tensor logits = f64({0, std::log(3.0), 0, 0}, {2, 2});  // softmax rows [1/4 3/4], [1/2 1/2]
  const double l0 = std::log(4.0 / 3.0), l1 = std::log(2.0);
  CHECK(cross_entropy(logits, i64({1, 0})).item<double>() == doctest::Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(cross_entropy(logits, i64({1, 0}), Tensor(), -100, Reduction::Sum).item<double>() == doctest::Approx(l0 + l1).epsilon(1e-14));
  const auto none = cross_entropy(logits, i64({-100, 0}), Tensor(), -100, Reduction::None).to_vector<double>();
  CHECK(none[0] == 0);
  CHECK(none[1] == doctest::Approx(l1).epsilon(1e-14));
  // weighted mean divides by the weights of the counted targets
  const Tensor w = f64({2, 0.5}, {2});
  CHECK(cross_entropy(logits, i64({1, 0}), w).item<double>() == doctest::Approx((0.5 * l0 + 2 * l1) / 2.5).epsilon(1e-14));
  CHECK(cross_entropy(logits, i64({-100, 0}), w).item<double>() == doctest::Approx(l1).epsilon(1e-14));
  CHECK(cross_entropy(logits, i64({1, 1}), Tensor(), /*ignore_index=*/1).item<double>() != cross_entropy(logits, i64({1, 1})).item<double>());
  CHECK(std::isnan(cross_entropy(logits, i64({-100, -100})).item<double>()));  // as torch
  // gradient of the mean: (softmax - onehot) / N
  Tensor x = logits.clone().requires_grad_();
  cross_entropy(x, i64({1, 0})).backward();
  const auto g = x.grad().to_vector<double>();
  CHECK(g[0] == doctest::Approx(0.25 / 2).epsilon(1e-14));
  CHECK(g[1] == doctest::Approx(-0.25 / 2).epsilon(1e-14));
  CHECK(g[2] == doctest::Approx(-0.5 / 2).epsilon(1e-14));
}

TEST_CASE("cross_entropy's target check: one host read, or none with out-of-range targets made NaN") {
  const Tensor logits = f64({0, std::log(3.0), 0, 0, 1, 2}, {3, 2});
  const Tensor t = i64({1, -1, 0});
  {
    HostSyncScope reads;
    (void)cross_entropy(logits, t, Tensor(), -1);
    CHECK(reads.count() == 1);  // the smallest and largest target in one transfer
  }
  HostSyncScope reads;
  const Tensor a = cross_entropy(logits, t, Tensor(), -1, Reduction::None, TargetCheck::NaN);
  const Tensor bad = cross_entropy(logits, i64({1, 2, -3}), Tensor(), -1, Reduction::None, TargetCheck::NaN);
  const Tensor mean_bad = cross_entropy(logits, i64({1, 2, 0}), Tensor(), -1, Reduction::Mean, TargetCheck::NaN);
  CHECK(reads.count() == 0);
  CHECK(a.to_vector<double>() == cross_entropy(logits, t, Tensor(), -1, Reduction::None).to_vector<double>());
  const std::vector<double> b = bad.to_vector<double>();
  CHECK(b[0] == doctest::Approx(std::log(4.0 / 3.0)).epsilon(1e-14));
  CHECK(std::isnan(b[1]));  // class 2 of 2
  CHECK(std::isnan(b[2]));  // -3 is neither a class nor ignore_index
  CHECK(std::isnan(mean_bad.item<double>()));
}

TEST_CASE("binary_cross_entropy_with_logits, smooth_l1, l1 by hand") {
  const Tensor x = f64({0, 2, -800}, {3}), t = f64({1, 0, 0}, {3});
  const auto l = binary_cross_entropy_with_logits(x, t, Tensor(), Reduction::None).to_vector<double>();
  CHECK(l[0] == doctest::Approx(std::log(2.0)).epsilon(1e-14));
  CHECK(l[1] == doctest::Approx(std::log1p(std::exp(2.0))).epsilon(1e-14));
  CHECK(l[2] == 0);  // no overflow for large logits
  CHECK(binary_cross_entropy_with_logits(x, t, f64({2, 0, 1}, {3}), Reduction::Sum).item<double>() ==
        doctest::Approx(2 * std::log(2.0)).epsilon(1e-14));
  // derivative at exactly 0 is sigmoid(0) - t
  Tensor z = f64({0, 0}, {2}).requires_grad_();
  binary_cross_entropy_with_logits(z, f64({0.25, 1}, {2}), Tensor(), Reduction::Sum).backward();
  CHECK(z.grad().to_vector<double>() == VD{0.25, -0.5});

  const Tensor a = f64({0.5, 2, -3, 0}, {4}), b = f64({0, 0, 0, 0}, {4});
  CHECK(smooth_l1_loss(a, b, 1.0, Reduction::None).to_vector<double>() == VD{0.125, 1.5, 2.5, 0});
  CHECK(smooth_l1_loss(a, b, 1.0, Reduction::Sum).item<double>() == 4.125);
  CHECK(smooth_l1_loss(a, b, 0.0, Reduction::None).to_vector<double>() == VD{0.5, 2, 3, 0});
  CHECK(l1_loss(a, b).item<double>() == doctest::Approx(5.5 / 4).epsilon(1e-14));
  CHECK(std::isnan(l1_loss(Tensor::zeros({0}), Tensor::zeros({0})).item<float>()));  // as torch
}

// The gradient checks and torch comparisons of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("losses reject bad arguments") {
  const Tensor x = Tensor::zeros({3, 4});
  CHECK_THROWS_WITH_AS(cross_entropy(x, Tensor::zeros({3})), doctest::Contains("cross_entropy: target must be int64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 1})), doctest::Contains("cross_entropy: target has shape [2]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 4, 1})), doctest::Contains("cross_entropy: target values must be in [0, 4) or ignore_index -100, found 4"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 1, 1}), Tensor::ones({3})), doctest::Contains("cross_entropy: weight must have shape [4]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(cross_entropy(Tensor::zeros({4}), i64({0})), doctest::Contains("cross_entropy: logits must be"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, Tensor::zeros({3, 5})), doctest::Contains("binary_cross_entropy_with_logits: target has shape"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, Tensor::zeros({3, 4}, DType::Float64)),
                       doctest::Contains("binary_cross_entropy_with_logits: target has dtype float64"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, x, Tensor::ones({5})), doctest::Contains("weight of shape [5] does not broadcast"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(smooth_l1_loss(x, Tensor::zeros({4})), doctest::Contains("smooth_l1_loss: y has shape [4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(smooth_l1_loss(x, x, -1), doctest::Contains("smooth_l1_loss: beta must be >= 0"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(l1_loss(x, Tensor::zeros({3, 4}, DType::Int64)), doctest::Contains("l1_loss: y has dtype int64"), std::invalid_argument);
}
