// softmax / log_softmax: hand-computed values, overflow safety and bad arguments (gradient checks and torch
// parity: the op table, tests/ops/reduce.def).
#include <doctest/doctest.h>

#include <cmath>

#include "gradcheck.h"
#include "kernels/ops.h"

using namespace mrc;
using namespace mrc::test;

namespace {
using VD = std::vector<double>;
}  // namespace

TEST_CASE("softmax and log_softmax by hand") {
  // rows [0, ln 3] -> [1/4, 3/4]; [1, 1] -> [1/2, 1/2]
  const Tensor x = f64({0, std::log(3.0), 1, 1}, {2, 2});
  const auto s = softmax(x, 1).to_vector<double>();
  CHECK(s[0] == doctest::Approx(0.25).epsilon(1e-14));
  CHECK(s[1] == doctest::Approx(0.75).epsilon(1e-14));
  CHECK(s[2] == doctest::Approx(0.5).epsilon(1e-14));
  const auto l = log_softmax(x, 1).to_vector<double>();
  CHECK(l[0] == doctest::Approx(std::log(0.25)).epsilon(1e-14));
  CHECK(l[3] == doctest::Approx(std::log(0.5)).epsilon(1e-14));
  // along dim 0: columns [0, 1] and [ln 3, 1]
  const auto s0 = softmax(x, 0).to_vector<double>();
  CHECK(s0[0] == doctest::Approx(1 / (1 + std::exp(1.0))).epsilon(1e-14));
  CHECK(s0[0] + s0[2] == doctest::Approx(1).epsilon(1e-14));
  // huge logits do not overflow: [1000, 1000 + ln 3] in float32
  const auto big = softmax(Tensor::from_vector(std::vector<float>{1000.f, 1000.f + std::log(3.f)}), 0).to_vector<float>();
  CHECK(big[0] == doctest::Approx(0.25).epsilon(1e-4));
  const auto lbig = log_softmax(Tensor::from_vector(std::vector<float>{-1000.f, 0.f}), 0).to_vector<float>();
  CHECK(lbig[0] == doctest::Approx(-1000).epsilon(1e-6));
  CHECK(lbig[1] == 0.f);
  // an -inf logit gets probability 0
  CHECK(softmax(f64({-INFINITY, 0}, {2}), 0).to_vector<double>() == VD{0, 1});
}

// The gradient checks and torch comparisons of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("softmax rejects bad arguments") {
  CHECK_THROWS_WITH_AS(softmax(Tensor::ones({2}, DType::Int64), 0), doctest::Contains("softmax: x must be float32 or float64"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(log_softmax(Tensor(), 0), doctest::Contains("log_softmax"), std::invalid_argument);
  CHECK_THROWS_AS(softmax(Tensor::ones({2, 3}), 2), std::out_of_range);
}
