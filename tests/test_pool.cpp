// Pooling and resampling: max_pool2d, upsample_nearest2d, interpolate_bilinear, adaptive_avg_pool2d.
// Values by hand, float32 bilinear resizing bit for bit against torch (tests/fixtures/test_pool.py) and errors
// for bad arguments; the float64 gradient checks and the comparisons with torch are entries of the op table
// (tests/ops/nn.def).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "kernels/pool/pool_math.h"
#include "tensor/serialize.h"
#include "test_util.h"
#include "torch_compare.h"

using namespace mrc;

namespace {
Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor grid(int64_t h, int64_t w) { return Tensor::arange(h * w, DType::Float32).view({1, 1, h, w}); }
}  // namespace

TEST_CASE("max_pool2d by hand") {
  const Tensor x = grid(4, 4);  // 0..15
  CHECK(max_pool2d(x, 2, 2).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  CHECK(max_pool2d(x, 3, 2, 1).to_vector<float>() == std::vector<float>{5, 7, 13, 15});
  // ceil_mode keeps the partial last window (rows/cols 2..3); without it only rows/cols 0..2 fit
  CHECK(max_pool2d(x, 3, 2, 0, 1, true).to_vector<float>() == std::vector<float>{10, 11, 14, 15});
  CHECK(max_pool2d(x, 3, 2, 0, 1, false).to_vector<float>() == std::vector<float>{10});
  // ceil_mode with padding: (4 + 2 - 3) / 2 rounded up, + 1 = 3 windows, the last starting at row 3
  CHECK(max_pool2d(x, 3, 2, 1, 1, true).to_vector<float>() == std::vector<float>{5, 7, 7, 13, 15, 15, 13, 15, 15});
  // (5 + 2 - 2) / 2 rounded up, + 1 = 4, but the 4th window would start in the right padding (row 5):
  // dropped, as torch does; windows start at rows -1, 1, 3
  CHECK(max_pool2d(grid(5, 5), 2, 2, 1, 1, true).to_vector<float>() == std::vector<float>{0, 2, 4, 10, 12, 14, 20, 22, 24});
  // padding counts as -inf, not 0: every value negative
  const Tensor neg = mul(add(x, 1.0), -1.0);
  CHECK(max_pool2d(neg, 3, 2, 1).to_vector<float>() == std::vector<float>{-1, -2, -5, -6});
  // dilation 2 on 5x5: window {0, 2} x {0, 2} shifted
  CHECK(max_pool2d(grid(5, 5), 2, 1, 0, 2).to_vector<float>() == std::vector<float>{12, 13, 14, 17, 18, 19, 22, 23, 24});
  // rectangular kernel and stride
  CHECK(max_pool2d(x, {1, 2}, {2, 2}).to_vector<float>() == std::vector<float>{1, 3, 9, 11});
  // NaN wins, as in torch
  Tensor xn = f32({1, std::numeric_limits<float>::quiet_NaN(), 3, 4}, {1, 1, 2, 2});
  CHECK(std::isnan(max_pool2d(xn, 2, 2).item<float>()));
  // the gradient goes to the maximum of each window
  const Tensor xg = x.clone().requires_grad_();
  sum(max_pool2d(xg, 2, 2)).backward();
  std::vector<float> want(16, 0.0f);
  for (int i : {5, 7, 13, 15}) want[size_t(i)] = 1;
  CHECK(xg.grad().to_vector<float>() == want);
  // overlapping windows add up where they share a maximum: 3x3 stride 1 on 4x4, maxima 10, 11, 14, 15
  const Tensor xo = x.clone().requires_grad_();
  sum(max_pool2d(xo, 3, 1)).backward();
  std::vector<float> want_o(16, 0.0f);
  for (int i : {10, 11, 14, 15}) want_o[size_t(i)] = 1;
  CHECK(xo.grad().to_vector<float>() == want_o);
}

TEST_CASE("upsampling, bilinear interpolation and adaptive pooling by hand") {
  const Tensor u = upsample_nearest2d(f32({1, 2, 3, 4}, {1, 1, 2, 2}), 2, 2);
  CHECK(u.to_vector<float>() == std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  CHECK(upsample_nearest2d(f32({1, 2}, {1, 1, 1, 2}), 2, 3).to_vector<float>() ==
        std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2});
  const Tensor xu = f32({1, 2, 3, 4}, {1, 1, 2, 2}).requires_grad_();
  const Tensor wu = Tensor::arange(16, DType::Float32).view({1, 1, 4, 4});
  sum(mul(upsample_nearest2d(xu, 2, 2), wu)).backward();  // each input collects its 2x2 block of weights
  CHECK(xu.grad().to_vector<float>() == std::vector<float>{0 + 1 + 4 + 5, 2 + 3 + 6 + 7, 8 + 9 + 12 + 13, 10 + 11 + 14 + 15});

  // [0, 1] to 4 columns: sources (i + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (edge)
  CHECK(interpolate_bilinear(f32({0, 1}, {1, 1, 1, 2}), 1, 4).to_vector<float>() == std::vector<float>{0, 0.25f, 0.75f, 1});
  CHECK(interpolate_bilinear(f32({0, 1}, {1, 1, 1, 2}), 1, 3, true).to_vector<float>() == std::vector<float>{0, 0.5f, 1});
  // 4 -> 2: sources 0.5 and 2.5, the means of neighbours
  CHECK(interpolate_bilinear(f32({0, 2, 4, 8}, {1, 1, 1, 4}), 1, 2).to_vector<float>() == std::vector<float>{1, 6});
  const Tensor xb = f32({0, 1}, {1, 1, 1, 2}).requires_grad_();
  sum(interpolate_bilinear(xb, 1, 4)).backward();  // weights per input: 1 + 0.75 + 0.25 and 0.25 + 0.75 + 1
  CHECK(xb.grad().to_vector<float>() == std::vector<float>{2, 2});

  CHECK(adaptive_avg_pool2d(grid(4, 4), 1, 1).item<float>() == 7.5f);
  // 5 -> 3 windows [0, 2), [1, 4), [3, 5)
  CHECK(adaptive_avg_pool2d(f32({0, 1, 2, 3, 4}, {1, 1, 1, 5}), 1, 3).to_vector<float>() == std::vector<float>{0.5f, 2, 3.5f});
  const Tensor xa = f32({0, 1, 2, 3, 4}, {1, 1, 1, 5}).requires_grad_();
  sum(adaptive_avg_pool2d(xa, 1, 3)).backward();
  CHECK(xa.grad().to_vector<float>() == std::vector<float>{0.5f, 0.5f + 1.0f / 3, 1.0f / 3, 1.0f / 3 + 0.5f, 0.5f});
}

TEST_CASE("bilinear taps are torch's to the last bit") {
  // 3 -> 5, output 2: scale = float(0.6) = 0.6 + 2^-24 * 0.4, source 2.5 * scale - 0.5 = 1 + 2^-24 exactly in
  // double. torch keeps that fraction: w1 = 2^-24, w0 = 1 - 2^-24. Rounding the source to float first
  // would tie to 1.0 (w1 = 0).
  const pool::LinearTap<float> a = pool::linear_tap<float>(2, 3, 5, false);
  CHECK(a.i0 == 1);
  CHECK(a.i1 == 2);
  CHECK(a.w1 == std::ldexp(1.0f, -24));
  CHECK(a.w0 == 1.0f - std::ldexp(1.0f, -24));
  // 2 -> 3, output 1: float(2/3) = 11184811 / 2^24, source 1.5 * that - 0.5 = 0.5 + 2^-25, which rounds
  // (ties to even) to w1 = 0.5, so w0 = 0.5; a triangle filter normalised in double gives 0.5 - 2^-25.
  const pool::LinearTap<float> b = pool::linear_tap<float>(1, 2, 3, false);
  CHECK(b.i0 == 0);
  CHECK(b.w0 == 0.5f);
  CHECK(b.w1 == 0.5f);
  // the last input repeats as its own second tap; sources below 0 clamp to 0
  const pool::LinearTap<float> e = pool::linear_tap<float>(2, 2, 3, false);
  CHECK(e.i0 == 1);
  CHECK(e.i1 == 1);
  CHECK(pool::linear_tap<float>(0, 4, 8, false).w1 == 0.0f);
  // align_corners: source i * (in - 1) / (out - 1); one output samples input 0
  const pool::LinearTap<double> c = pool::linear_tap<double>(1, 3, 5, true);
  CHECK(c.i0 == 0);
  CHECK(c.w1 == 0.5);
  CHECK(pool::linear_tap<double>(0, 7, 1, true).i0 == 0);
}

TEST_CASE("interpolate_bilinear: float32 output is torch's bit for bit, gradients within 1e-6") {
  const auto ref = load_tensors(test::fixture("pool.safetensors"));
  const auto cases = ref.at("exact.cases").to_vector<int64_t>();
  REQUIRE(cases.size() % 7 == 0);
  for (size_t k = 0; k < cases.size() / 7; ++k) {
    const std::string name = "exact" + std::to_string(k);
    const int64_t* c = cases.data() + 7 * k;
    CAPTURE(name);
    const Tensor x = ref.at(name + ".x").clone().requires_grad_();
    const Tensor out = interpolate_bilinear(x, c[4], c[5], c[6] != 0);
    const Tensor want = ref.at(name + ".out");
    REQUIRE(out.shape() == want.shape());
    // equal floats (no NaN here; only a -0 against a +0 could be equal yet differ in bits)
    const double differ = sum(ne(out.detach(), want).to(DType::Float64)).item<double>();
    const double worst = max(abs(sub(out.detach(), want))).item<float>();
    CHECK_MESSAGE(differ == 0, name << ": " << differ << " of " << want.numel() << " outputs differ from torch's, by up to "
                                    << worst);
    const Tensor gx = grad(sum(mul(out, ref.at(name + ".w"))), {x})[0];
    test::expect_close(gx, ref.at(name + ".grad.x"), 1e-6, name + " gradient");
  }
}

// The gradient checks and torch comparisons of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("pooling and resampling: bad arguments name the op and the argument") {
  const Tensor x = Tensor::zeros({1, 2, 6, 6});
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::zeros({6, 6}), 2, 2), doctest::Contains("max_pool2d: input must be 4-D"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 3, 2, 2), doctest::Contains("max_pool2d: padding"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 0, 1), doctest::Contains("max_pool2d: kernel"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 7, 1), doctest::Contains("too small"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2d(Tensor::zeros({1, 2, 6, 6}, DType::Int64), 2, 2), doctest::Contains("floating point"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(upsample_nearest2d(x, 0, 2), doctest::Contains("upsample_nearest2d: scale"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(interpolate_bilinear(x, 0, 3), doctest::Contains("interpolate_bilinear: output size"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(Tensor::zeros({2, 6, 6}), 1, 1), doctest::Contains("adaptive_avg_pool2d: input"),
                       std::invalid_argument);
}
