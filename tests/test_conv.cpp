// conv2d and conv_transpose2d: values by hand, reproducibility across runs, thread counts and GEMM builds, and
// errors for bad arguments; the float64 gradient checks and the comparisons with torch's float64 over strides /
// padding / dilation / groups and block-splitting sizes are entries of the op table (tests/ops/nn.def).
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/conv/conv_fused.h"
#include "kernels/conv/winograd_cpu.h"
#include "kernels/cpu_isa.h"
#include "kernels/gemm/gemm.h"
#include "kernels/ops.h"
#include "tensor/parallel.h"
#include "test_util.h"

using namespace mrc;

namespace {

Tensor f32(const std::vector<float>& v, const Shape& s) { return Tensor::from_vector(v, s); }

// Direct convolution in double: the definition, for comparing the blocked GEMM paths.
std::vector<double> direct_conv(const Tensor& x, const Tensor& w, Int2 s, Int2 p, Int2 d, int64_t groups) {
  const auto X = x.to_vector<double>(), Wt = w.to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), M = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t OH = conv_out_size(H, KH, s.h, p.h, d.h), OW = conv_out_size(W, KW, s.w, p.w, d.w);
  const int64_t Cg = C / groups, Mg = M / groups;
  std::vector<double> out(size_t(N * M * OH * OW), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          double acc = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t iy = oy * s.h - p.h + i * d.h, ix = ox * s.w - p.w + j * d.w;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += Wt[size_t(((m * Cg + c) * KH + i) * KW + j)] *
                       X[size_t(((n * C + (m / Mg) * Cg + c) * H + iy) * W + ix)];
              }
          out[size_t(((n * M + m) * OH + oy) * OW + ox)] = acc;
        }
  return out;
}

}  // namespace

TEST_CASE("conv2d by hand") {
  const Tensor x = Tensor::arange(16, DType::Float32).view({1, 1, 4, 4});
  const Tensor box = Tensor::ones({1, 1, 3, 3});
  // 3x3 sums of arange(16) as a 4x4 image with zero padding, every second position
  CHECK(conv2d(x, box, Tensor(), 2, 1).to_vector<float>() == std::vector<float>{10, 24, 51, 90});
  CHECK(conv2d(x, box, f32({1}, {1}), 2, 1).to_vector<float>() == std::vector<float>{11, 25, 52, 91});
  // the 2x2 valid sums of the top-left corner with stride 1
  CHECK(conv2d(x, box).to_vector<float>() == std::vector<float>{45, 54, 81, 90});
  // dilation 2 on a 5x5 arange reads rows/cols 0, 2, 4: 0+2+4+10+12+14+20+22+24
  CHECK(conv2d(Tensor::arange(25, DType::Float32).view({1, 1, 5, 5}), box, Tensor(), 1, 0, 2).item<float>() == 108);
  // 1x1 channel mixing: 2 * x0 - x1
  const Tensor x2 = f32({1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 2, 2});
  CHECK(conv2d(x2, f32({2, -1}, {1, 2, 1, 1})).to_vector<float>() == std::vector<float>{-3, -2, -1, 0});
  // groups: each output channel sees only its own input channel
  CHECK(conv2d(f32({3, 5}, {1, 2, 1, 1}), f32({2, 10}, {2, 1, 1, 1}), Tensor(), 1, 0, 1, 2).to_vector<float>() ==
        std::vector<float>{6, 50});
  // rectangular stride / padding: a 1x2 kernel [1, -1] (x[i] - x[i+1]) across columns, stride 2 along rows
  CHECK(conv2d(x, f32({1, -1}, {1, 1, 1, 2}), Tensor(), {2, 1}, {0, 0}).to_vector<float>() ==
        std::vector<float>{-1, -1, -1, -1, -1, -1});
}

TEST_CASE("conv_transpose2d by hand") {
  const Tensor x = f32({1, 2, 3, 4}, {1, 1, 2, 2});
  const Tensor ones = Tensor::ones({1, 1, 2, 2});
  // stride 2 with a 2x2 kernel of ones copies each pixel into its own 2x2 block
  CHECK(conv_transpose2d(x, ones, Tensor(), 2).to_vector<float>() ==
        std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  // stride 1: overlapping blocks add up
  CHECK(conv_transpose2d(x, ones).to_vector<float>() == std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4});
  // output_padding adds a last row and column that only the bias reaches
  CHECK(conv_transpose2d(x, ones, f32({0.5f}, {1}), 2, 0, 1).to_vector<float>() ==
        std::vector<float>{1.5f, 1.5f, 2.5f, 2.5f, 0.5f, 1.5f, 1.5f, 2.5f, 2.5f, 0.5f, 3.5f, 3.5f, 4.5f,
                           4.5f, 0.5f, 3.5f, 3.5f, 4.5f, 4.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f});
  // weight [C_in, C_out, kh, kw]: one input channel into two output channels scaled 1 and -2
  const Tensor y = conv_transpose2d(f32({3}, {1, 1, 1, 1}), f32({1, -2}, {1, 2, 1, 1}));
  CHECK(y.shape() == Shape{1, 2, 1, 1});
  CHECK(y.to_vector<float>() == std::vector<float>{3, -6});
}

TEST_CASE("conv2d gradients by hand") {
  // out = sum of 2x2 windows (stride 1) of a 3x3 input: d(sum out)/dx counts the windows covering x
  const Tensor x = Tensor::arange(9, DType::Float32).view({1, 1, 3, 3}).clone().requires_grad_();
  const Tensor w = Tensor::ones({1, 1, 2, 2}).requires_grad_();
  const Tensor b = Tensor::zeros({1}).requires_grad_();
  sum(conv2d(x, w, b)).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>{1, 2, 1, 2, 4, 2, 1, 2, 1});
  // d/dw[i][j] = sum of the input under that tap over the 4 windows: 0+1+3+4, 1+2+4+5, 3+4+6+7, 4+5+7+8
  CHECK(w.grad().to_vector<float>() == std::vector<float>{8, 12, 20, 24});
  CHECK(b.grad().to_vector<float>() == std::vector<float>{4});
}

TEST_CASE("conv2d: every CPU path equals the direct sum; results repeat run to run") {
  struct C {
    Shape x, w;
    Int2 s, p, d;
    int64_t g;
  };
  // Shapes that take each CPU path: positions split, weight rows split over a shared column matrix,
  // 1x1 without im2col, images split, and groups.
  for (const C& c : {C{{1, 48, 33, 31}, {40, 48, 3, 3}, 1, 1, 1, 1}, C{{1, 96, 7, 7}, {64, 96, 3, 3}, 1, 1, 1, 1},
                     C{{1, 64, 12, 12}, {128, 64, 1, 1}, 1, 0, 1, 1}, C{{1, 128, 8, 8}, {256, 128, 1, 1}, 1, 0, 1, 1},
                     C{{5, 8, 9, 9}, {16, 8, 3, 3}, 2, 1, 1, 1},
                     C{{2, 16, 10, 10}, {16, 4, 3, 3}, 1, 2, 2, 4}}) {
    CAPTURE(shape_str(c.x));
    Generator gen(3);
    const Tensor x = Tensor::uniform(c.x, -1, 1, &gen, DType::Float64);
    const Tensor w = Tensor::uniform(c.w, -0.2, 0.2, &gen, DType::Float64);
    const auto want = direct_conv(x, w, c.s, c.p, c.d, c.g);
    const auto got = conv2d(x, w, Tensor(), c.s, c.p, c.d, c.g).to_vector<double>();
    REQUIRE(got.size() == want.size());
    int bad = 0;
    for (size_t i = 0; i < got.size(); ++i) bad += std::abs(got[i] - want[i]) > 1e-12 * (1 + std::abs(want[i]));
    CHECK(bad == 0);

    const Tensor xf = x.to(DType::Float32).requires_grad_(), wf = w.to(DType::Float32).requires_grad_();
    auto run = [&] {
      xf.zero_grad();
      wf.zero_grad();
      const Tensor y = conv2d(xf, wf, Tensor(), c.s, c.p, c.d, c.g);
      y.backward(Tensor::ones_like(y));
      return std::vector<std::vector<float>>{y.to_vector<float>(), xf.grad().to_vector<float>(), wf.grad().to_vector<float>()};
    };
    const auto first = run();
    CHECK(run() == first);  // the split depends on shapes and thread count only: same bits every run
    // another thread count or another GEMM build changes the split and the rounding, within float32's
    auto near_first = [&](const std::vector<std::vector<float>>& other) {
      for (size_t k = 0; k < 3; ++k) {
        double worst = 0, scale = 0;
        for (size_t i = 0; i < other[k].size(); ++i) {
          worst = std::max(worst, double(std::abs(other[k][i] - first[k][i])));
          scale = std::max(scale, double(std::abs(first[k][i])));
        }
        CHECK(worst <= 1e-5 * scale);
      }
    };
    const int threads = num_threads();
    set_num_threads(1);
    near_first(run());
    set_num_threads(threads);
    const cpu::CpuIsa isa = cpu::cpu_isa();
    for (cpu::CpuIsa other : {cpu::CpuIsa::Generic, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512}) {
      if (other == isa || !cpu::cpu_supports(other)) continue;
      CAPTURE(cpu::cpu_isa_name(other));
      cpu::set_cpu_isa(other);
      near_first(run());
    }
    cpu::set_cpu_isa(isa);
  }
  MESSAGE("GEMM kernel in use: " << cpu::gemm_isa());
}

TEST_CASE("conv2d and conv_transpose2d: empty batch and no-grad") {
  const Tensor y = conv2d(Tensor::zeros({0, 3, 5, 5}), Tensor::ones({2, 3, 3, 3}));
  CHECK(y.shape() == Shape{0, 2, 3, 3});
  const Tensor x = Tensor::ones({1, 2, 4, 4}).requires_grad_();
  NoGradGuard ng;
  CHECK(!conv2d(x, Tensor::ones({1, 2, 1, 1})).requires_grad());
}

TEST_CASE("conv2d and conv_transpose2d: bad arguments name the op and the argument") {
  const Tensor x = Tensor::zeros({1, 4, 8, 8});
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 3, 3, 3})), doctest::Contains("conv2d: weight"), std::invalid_argument);
  CHECK_THROWS_WITH(conv2d(Tensor::zeros({1, 3, 8, 8}), Tensor::zeros({4, 2, 3, 3})), doctest::Contains("input channels"));
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({4, 8, 8}), Tensor::zeros({2, 4, 3, 3})),
                       doctest::Contains("conv2d: input must be 4-D"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 3})), doctest::Contains("weight must be 4-D"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 1, 3, 3}), Tensor(), 1, 0, 1, 3),
                       doctest::Contains("groups (3) must divide the input channels"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({3, 2, 3, 3}), Tensor(), 1, 0, 1, 2),
                       doctest::Contains("must divide the output channels"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 3, 3}), Tensor::zeros({3})), doctest::Contains("bias must have shape [2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 3, 3}), Tensor(), 0), doctest::Contains("stride must be >= 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 3, 3}), Tensor(), 1, -1), doctest::Contains("padding must be >= 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 9, 9})), doctest::Contains("smaller than the dilated kernel"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(x, Tensor::zeros({2, 4, 3, 3}, DType::Float64)), doctest::Contains("conv2d"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(Tensor::zeros({1, 4, 8, 8}, DType::Int64), Tensor::zeros({2, 4, 3, 3}, DType::Int64)),
                       doctest::Contains("floating point"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor::zeros({3, 2, 3, 3})), doctest::Contains("conv_transpose2d: weight"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), 2, 1, 2),
                       doctest::Contains("output_padding"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor::zeros({4})),
                       doctest::Contains("bias must have shape [2]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor(), 1, 0, 0, 3),
                       doctest::Contains("groups (3)"), std::invalid_argument);
}

TEST_CASE("conv2d: the Winograd F(2x2, 3x3) path (forward, input gradient) equals the direct sum within float32 error") {
  struct C {
    Shape x;
    int64_t m, pad;
  };
  // odd output sizes (partial tiles), padding 1 and 0, several images; each has >= 192 tiles (the path's minimum)
  for (const C& c : {C{{2, 16, 21, 19}, 24, 1}, C{{1, 32, 30, 31}, 16, 0}, C{{5, 20, 13, 13}, 32, 1}}) {
    CAPTURE(shape_str(c.x));
    Generator gen(8);
    const Tensor x = Tensor::uniform(c.x, -1, 1, &gen), w = Tensor::uniform({c.m, c.x[1], 3, 3}, -0.2, 0.2, &gen);
    const Tensor b = Tensor::uniform({c.m}, -0.5, 0.5, &gen);
    const auto want = direct_conv(x.to(DType::Float64), w.to(DType::Float64), 1, c.pad, 1, 1);
    cpu::ConvGeom g;
    g.N = c.x[0], g.C = c.x[1], g.H = c.x[2], g.W = c.x[3], g.M = c.m, g.KH = g.KW = 3, g.ph = g.pw = c.pad;
    g.OH = conv_out_size(g.H, 3, 1, c.pad, 1), g.OW = conv_out_size(g.W, 3, 1, c.pad, 1);
    cpu::set_winograd_enabled(true);
    REQUIRE(cpu::winograd_applies(g));
    // the input gradient through the same path (a convolution with the filters transposed and flipped,
    // padding 2 - pad), against float64 autograd (no Winograd there)
    REQUIRE(cpu::winograd_backward_input_applies(g));
    const Tensor gy = Tensor::uniform({g.N, g.M, g.OH, g.OW}, -1, 1, &gen);
    auto input_grad = [&](DType dt) {
      const Tensor xl = x.to(dt).requires_grad_(), wl = w.to(dt).requires_grad_();
      conv2d(xl, wl, Tensor(), 1, c.pad).backward(gy.to(dt));
      return xl.grad().to(DType::Float64).to_vector<double>();
    };
    const auto gx_want = input_grad(DType::Float64), gx_wino = input_grad(DType::Float32);
    double gscale = 0, gerr = 0;
    for (size_t i = 0; i < gx_want.size(); ++i) {
      gscale = std::max(gscale, std::abs(gx_want[i]));
      gerr = std::max(gerr, std::abs(gx_wino[i] - gx_want[i]));
    }
    MESSAGE("input gradient, max error / max |grad|: Winograd " << gerr / gscale);
    CHECK(gerr <= 2e-6 * gscale);
    NoGradGuard ng;
    const auto wino = conv2d(x, w, Tensor(), 1, c.pad).to_vector<float>();
    cpu::set_winograd_enabled(false);
    const auto gemm = conv2d(x, w, Tensor(), 1, c.pad).to_vector<float>();
    const Tensor r = Tensor::uniform({g.N, g.M, g.OH, g.OW}, -1, 1, &gen);
    const auto fused_gemm = conv2d_fused(x, w, b, r, true, 1, c.pad).to_vector<float>();
    cpu::set_winograd_enabled(true);
    const auto fused_wino = conv2d_fused(x, w, b, r, true, 1, c.pad).to_vector<float>();
    cpu::set_winograd_enabled(true);  // the default
    double scale = 0, err_wino = 0, err_gemm = 0, err_fused = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      scale = std::max(scale, std::abs(want[i]));
      err_wino = std::max(err_wino, std::abs(double(wino[i]) - want[i]));
      err_gemm = std::max(err_gemm, std::abs(double(gemm[i]) - want[i]));
      err_fused = std::max(err_fused, std::abs(double(fused_wino[i]) - double(fused_gemm[i])));
    }
    MESSAGE("max error / max |out|: Winograd " << err_wino / scale << ", im2col GEMM " << err_gemm / scale);
    CHECK(err_wino <= 2e-6 * scale);  // float32 rounding of sums of up to 9 * C terms, a few times the GEMM's
    CHECK(err_fused <= 4e-6 * scale);
  }
}
