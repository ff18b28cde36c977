// ROIAlign and multi-scale ROIAlign: hand-computed values on a 5x5 arange, torchvision forward and
// backward on random inputs, float64 central-difference gradients, edge cases, determinism.
#include <doctest/doctest.h>

#include <random>

#include "detection_test_util.h"
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "kernels/roi_align/roi_align.h"
#include "tensor/parallel.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::expect_close;
using mrc::test::fx;

namespace {

// x[0, 0, i, j] = 5 i + j. Bilinear interpolation reproduces a linear function exactly, so the value at
// an interior sampling point (y, x) is 5 y + x and a bin's average is 5 * mean(y) + mean(x).
std::vector<float> arange5x5() {
  std::vector<float> x(25);
  for (int i = 0; i < 25; ++i) x[size_t(i)] = float(i);
  return x;
}

std::vector<float> pool5x5(std::vector<float> roi, int64_t ph, int64_t pw, double scale, int64_t sr, bool aligned) {
  const std::vector<float> x = arange5x5();
  std::vector<float> out(size_t(ph * pw), -1.f);
  roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, roi.data(), 1, RoiAlignParams{ph, pw, scale, sr, aligned},
                        out.data());
  return out;
}

}  // namespace

TEST_CASE("roi_align: hand-computed values on a 5x5 arange") {
  // Box (0,0)-(4,4), 2x2 bins of 2 px, 2x2 samples per bin at offsets 0.5 and 1.5 inside each bin:
  // bin (ph, pw) averages y in {2ph+0.5, 2ph+1.5} and x in {2pw+0.5, 2pw+1.5}: 5(2ph+1) + (2pw+1).
  CHECK(pool5x5({0, 0, 0, 4, 4}, 2, 2, 1.0, 2, false) == std::vector<float>{6, 8, 16, 18});
  // Adaptive sampling picks ceil(4 / 2) = 2 points per bin: the same answer.
  CHECK(pool5x5({0, 0, 0, 4, 4}, 2, 2, 1.0, 0, false) == std::vector<float>{6, 8, 16, 18});
  // spatial_scale 0.5 maps (0,0)-(8,8) onto the same feature window.
  CHECK(pool5x5({0, 0, 0, 8, 8}, 2, 2, 0.5, 2, false) == std::vector<float>{6, 8, 16, 18});
  // aligned: the box shifts by -0.5 px, so samples sit at {2p, 2p+1}: means 2p + 0.5.
  CHECK(pool5x5({0, 0, 0, 4, 4}, 2, 2, 1.0, 2, true) == std::vector<float>{3, 5, 13, 15});
  // One bin with adaptive sampling: ceil(4/1) = 4 points per direction at 0.5..3.5, mean 2: 5*2 + 2.
  CHECK(pool5x5({0, 0, 0, 4, 4}, 1, 1, 1.0, -1, false) == std::vector<float>{12});
  // A sample at x = 4.5 lies past the last column: it is clamped to column 4 (y = 4.5 likewise): 24.
  CHECK(pool5x5({0, 3, 3, 6, 6}, 1, 1, 1.0, 1, false) == std::vector<float>{24});
  // x = -0.5 is within one pixel of the map: clamped to 0. y = 1.5: 5 * 1.5 + 0.
  CHECK(pool5x5({0, -1, 1, 0, 2}, 1, 1, 1.0, 1, false) == std::vector<float>{7.5f});
  // Samples beyond one pixel outside the map (x = -7.5) contribute zero.
  CHECK(pool5x5({0, -10, -10, -5, -5}, 2, 2, 1.0, 2, false) == std::vector<float>{0, 0, 0, 0});
  // A zero-size box, not aligned, is widened to 1x1: (2,2)-(3,3), one sample at (2.5, 2.5): 15.
  CHECK(pool5x5({0, 2, 2, 2, 2}, 1, 1, 1.0, 1, false) == std::vector<float>{15});
  // The same box aligned has no extent: adaptive sampling takes ceil(0) = 0 points and outputs 0.
  CHECK(pool5x5({0, 2, 2, 2, 2}, 1, 1, 1.0, 0, true) == std::vector<float>{0});
  // Half the samples outside: one 6 px bin from x = -4 samples x = -2.5 (dropped, yet counted) and 0.5,
  // y = 1.25 and 1.75: ((5 * 1.25 + 0.5) + (5 * 1.75 + 0.5)) / 4 = 4.
  CHECK(pool5x5({0, -4, 1, 2, 2}, 1, 1, 1.0, 2, false) == std::vector<float>{4});
}

TEST_CASE("roi_align: hand-computed backward") {
  // One sample at (1.5, 2.5): a quarter of the gradient on each of (1,2), (1,3), (2,2), (2,3).
  const std::vector<float> roi{0, 2, 1, 3, 2}, go{8};
  std::vector<float> gi(25, -1.f);
  roi_align_backward_cpu(go.data(), roi.data(), 1, RoiAlignParams{1, 1, 1.0, 1, false}, FeatureShape{1, 1, 5, 5},
                         gi.data());
  std::vector<float> want(25, 0.f);
  want[7] = want[8] = want[12] = want[13] = 2.f;
  CHECK(gi == want);
  // Box (0,4)-(2,5), adaptive: 1 x 2 samples at y = 4.5 (clamped to row 4), x = 0.5 and 1.5. Each
  // gives half of 8 / count 2 to two neighbouring columns of row 4: columns 0, 1, 2 get 2, 4, 2.
  const std::vector<float> roi2{0, 0, 4, 2, 5};
  roi_align_backward_cpu(go.data(), roi2.data(), 1, RoiAlignParams{1, 1, 1.0, 0, false}, FeatureShape{1, 1, 5, 5},
                         gi.data());
  std::fill(want.begin(), want.end(), 0.f);
  want[20] = 2.f;
  want[21] = 4.f;
  want[22] = 2.f;
  CHECK(gi == want);
}

TEST_CASE("roi_align: forward and backward match torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("roi_align.safetensors");
  mrc::test::for_each_fixture_case(f, 1, [&](int, const std::string& p) {
    const std::vector<double> prm = fx<double>(f, p + "params");
    const FeatureShape s{int64_t(prm[0]), int64_t(prm[1]), int64_t(prm[2]), int64_t(prm[3])};
    const int64_t k = int64_t(prm[4]);
    const RoiAlignParams rp{int64_t(prm[5]), int64_t(prm[6]), prm[7], int64_t(prm[8]), prm[9] != 0};
    mrc::test::with_entry_type(f, p + "input", [&](auto zero) {
      using T = decltype(zero);
      const auto x = fx<T>(f, p + "input"), rois = fx<T>(f, p + "rois"), go = fx<T>(f, p + "grad_output");
      std::vector<T> y(size_t(k * s.c * rp.pooled_h * rp.pooled_w)), gx(size_t(s.numel()), T(-7));
      roi_align_forward_cpu(x.data(), s, rois.data(), k, rp, y.data());
      roi_align_backward_cpu(go.data(), rois.data(), k, rp, s, gx.data());
      expect_close(y, fx<T>(f, p + "output"), 1e-6, 1e-5, p + "output");
      expect_close(gx, fx<T>(f, p + "grad_input"), 1e-6, 1e-4, p + "grad_input");
    });
  });
}

TEST_CASE("roi_align: float64 gradient check by central differences") {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uni(-2.0, 12.0);
    const FeatureShape s{2, 2, 5, 6};
    const int64_t k = 5;
    std::vector<double> x(size_t(s.numel())), rois;
    for (double& v : x) v = normal(rng);
    for (int64_t r = 0; r < k; ++r) {
      const double x1 = uni(rng), y1 = uni(rng);
      rois.insert(rois.end(), {double(r % 2), x1, y1, x1 + 0.5 + 6 * std::abs(normal(rng)), y1 + 0.5 + 6 * std::abs(normal(rng))});
    }
    const RoiAlignParams rp{3, 2, 0.5, seed % 2 ? int64_t(2) : int64_t(-1), seed >= 3};
    CAPTURE(seed);
    const size_t out_n = size_t(k * s.c * rp.pooled_h * rp.pooled_w);
    std::vector<double> w(out_n), y(out_n), gx(x.size());
    for (double& v : w) v = normal(rng);
    auto objective = [&](const std::vector<double>& in) {
      roi_align_forward_cpu(in.data(), s, rois.data(), k, rp, y.data());
      double acc = 0;
      for (size_t i = 0; i < out_n; ++i) acc += y[i] * w[i];
      return acc;
    };
    roi_align_backward_cpu(w.data(), rois.data(), k, rp, s, gx.data());
    const double eps = 1e-6;
    std::vector<double> numeric(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      std::vector<double> xp = x, xm = x;
      xp[i] += eps;
      xm[i] -= eps;
      numeric[i] = (objective(xp) - objective(xm)) / (2 * eps);
    }
    expect_close(gx, numeric, 1e-7, 1e-6, "d(sum(roi_align(x) * w))/dx");
    double norm = 0;
    for (double g : gx) norm += std::abs(g);
    CHECK(norm > 0.1);  // the ROIs do touch the map
  }
}

TEST_CASE("roi_align: edge cases and errors") {
  const std::vector<float> x = arange5x5();
  const RoiAlignParams rp{2, 2, 1.0, 2, false};
  SUBCASE("no boxes: nothing written forward, zero gradient backward") {
    std::vector<float> gi(25, 3.f);
    roi_align_forward_cpu<float>(x.data(), FeatureShape{1, 1, 5, 5}, nullptr, 0, rp, nullptr);
    roi_align_backward_cpu<float>(nullptr, nullptr, 0, rp, FeatureShape{1, 1, 5, 5}, gi.data());
    CHECK(gi == std::vector<float>(25, 0.f));
  }
  SUBCASE("empty feature batch") {
    roi_align_forward_cpu<float>(nullptr, FeatureShape{0, 3, 5, 5}, nullptr, 0, rp, nullptr);
    roi_align_backward_cpu<float>(nullptr, nullptr, 0, rp, FeatureShape{0, 3, 5, 5}, nullptr);
    const std::vector<float> roi{0, 0, 0, 1, 1};
    std::vector<float> out(4);
    CHECK_THROWS_WITH_AS(roi_align_forward_cpu(x.data(), FeatureShape{0, 1, 5, 5}, roi.data(), 1, rp, out.data()),
                         doctest::Contains("rois[0][0] (batch index) is 0.000000, expected a value in [0, 0)"),
                         std::runtime_error);
  }
  SUBCASE("bad batch index and parameters are reported") {
    const std::vector<float> rois{0, 0, 0, 1, 1, 1, 0, 0, 1, 1};
    std::vector<float> out(8);
    CHECK_THROWS_WITH_AS(roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, rois.data(), 2, rp, out.data()),
                         doctest::Contains("rois[1][0]"), std::runtime_error);
    CHECK_THROWS_WITH_AS(roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, rois.data(), 1,
                                               RoiAlignParams{0, 2, 1.0, 2, false}, out.data()),
                         doctest::Contains("output_size must be positive"), std::runtime_error);
    CHECK_THROWS_WITH_AS(roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, rois.data(), 1,
                                               RoiAlignParams{2, 2, -1.0, 2, false}, out.data()),
                         doctest::Contains("spatial_scale"), std::runtime_error);
  }
  SUBCASE("a huge box with adaptive sampling is refused, not allocated") {
    const std::vector<float> roi{0, 0, 0, 1e7f, 1e7f};
    std::vector<float> out(4);
    CHECK_THROWS_WITH_AS(roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, roi.data(), 1,
                                               RoiAlignParams{2, 2, 1.0, 0, false}, out.data()),
                         doctest::Contains("use a fixed sampling_ratio"), std::runtime_error);
    roi_align_forward_cpu(x.data(), FeatureShape{1, 1, 5, 5}, roi.data(), 1, rp, out.data());  // fixed: fine
    CHECK(out == std::vector<float>(4, 0.f));  // every sample lies far outside the 5x5 map
  }
  SUBCASE("zero-size feature map gives zeros") {
    const std::vector<float> roi{0, 0, 0, 4, 4};
    std::vector<float> out(4, 5.f);
    roi_align_forward_cpu<float>(nullptr, FeatureShape{1, 1, 0, 0}, roi.data(), 1, rp, out.data());
    CHECK(out == std::vector<float>(4, 0.f));
  }
}

TEST_CASE("roi_align: backward is bit-identical for any thread count") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const FeatureShape s{2, 8, 12, 12};
  const int64_t k = 40;
  std::vector<float> rois, go(size_t(k * s.c * 49));
  std::uniform_real_distribution<float> pos(-4, 40);
  for (int64_t r = 0; r < k; ++r) {
    const float x1 = pos(rng), y1 = pos(rng);
    rois.insert(rois.end(), {float(r % 2), x1, y1, x1 + std::abs(normal(rng)) * 20, y1 + std::abs(normal(rng)) * 20});
  }
  for (float& v : go) v = normal(rng);
  const RoiAlignParams rp{7, 7, 0.25, -1, true};
  std::vector<float> g1(size_t(s.numel())), g2(size_t(s.numel()));
  const int saved = mrc::num_threads();
  mrc::set_num_threads(1);
  roi_align_backward_cpu(go.data(), rois.data(), k, rp, s, g1.data());
  mrc::set_num_threads(3);
  roi_align_backward_cpu(go.data(), rois.data(), k, rp, s, g2.data());
  mrc::set_num_threads(saved);
  CHECK(g1 == g2);
}

TEST_CASE("multiscale roi_align: levels, scales, forward and backward match torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("multiscale.safetensors");
  for (const std::string name : {"fpn", "one"}) {
    CAPTURE(name);
    const std::string p = name + ".";
    const std::vector<double> prm = fx<double>(f, p + "params");
    const int levels = int(prm[0]);
    const std::vector<int64_t> sizes = fx<int64_t>(f, p + "image_sizes");
    std::vector<std::pair<int64_t, int64_t>> image_sizes;
    for (size_t i = 0; i < sizes.size(); i += 2) image_sizes.push_back({sizes[i], sizes[i + 1]});
    std::vector<std::vector<float>> feats, grads;
    std::vector<FeatureShape> shapes;
    for (int l = 0; l < levels; ++l) {
      const auto& e = f.at(p + "feat" + std::to_string(l));
      shapes.push_back({e.shape[0], e.shape[1], e.shape[2], e.shape[3]});
      feats.push_back(e.as<float>());
      grads.push_back(std::vector<float>(size_t(shapes.back().numel()), -1.f));
    }
    const Pyramid pyr = infer_pyramid(shapes, image_sizes);
    const std::vector<double> scales = fx<double>(f, p + "scales");
    for (int l = 0; l < levels; ++l) CHECK(pyr.scale[l] == scales[size_t(l)]);
    const std::vector<float> rois = fx<float>(f, p + "rois");
    const int64_t k = int64_t(rois.size() / 5);
    std::vector<int64_t> lv(static_cast<size_t>(k));
    fpn_levels_cpu(rois.data(), k, pyr, lv.data());
    if (levels > 1) {
      const std::vector<int64_t> kr = fx<int64_t>(f, p + "k_range");
      CHECK(pyr.k_min == kr[0]);
      CHECK(pyr.k_max == kr[1]);
      CHECK(lv == fx<int64_t>(f, p + "levels"));
      CHECK(lv[0] == 4 - pyr.k_min);  // the canonical 224 x 224 box
      CHECK(lv[1] == 3 - pyr.k_min);  // 112 x 112
    }
    const RoiAlignParams rp{int64_t(prm[1]), int64_t(prm[1]), 1.0, int64_t(prm[2]), false};
    std::vector<const float*> fp;
    std::vector<float*> gp;
    for (int l = 0; l < levels; ++l) {
      fp.push_back(feats[size_t(l)].data());
      gp.push_back(grads[size_t(l)].data());
    }
    std::vector<float> y(size_t(k * shapes[0].c * rp.pooled_h * rp.pooled_w));
    multiscale_roi_align_forward_cpu(fp.data(), pyr, rois.data(), k, rp, y.data());
    expect_close(y, fx<float>(f, p + "output"), 1e-6, 1e-5, p + "output");
    const std::vector<float> go = fx<float>(f, p + "grad_output");
    multiscale_roi_align_backward_cpu(go.data(), pyr, rois.data(), k, rp, gp.data());
    for (int l = 0; l < levels; ++l)
      expect_close(grads[size_t(l)], fx<float>(f, p + "grad" + std::to_string(l)), 1e-6, 1e-4,
                   p + "grad" + std::to_string(l));
  }
  CHECK_THROWS_WITH_AS(infer_pyramid({FeatureShape{1, 1, 4, 4}}, {}), doctest::Contains("image_sizes is empty"),
                       std::runtime_error);
}
