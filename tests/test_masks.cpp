// Mask targets and mask pasting: hand-computed cases, then torchvision's project_masks_on_boxes and
// paste_masks_in_image on random masks and boxes (inside, straddling, larger than the image, tiny;
// pasted bit for bit), and resize_bilinear (the model's image resize) bit for bit against F.interpolate.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "detection_test_util.h"
#include "kernels/masks/masks.h"
#include "kernels/masks/masks_op.h"

using namespace mrc;
using namespace mrc::kernels;
using mrc::test::expect_close;
using mrc::test::fx;

namespace {

// Checks got == want bit for bit, reporting how many floats differ and by how many ulp at most.
void expect_bitwise(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  REQUIRE(got.size() == want.size());
  int64_t differ = 0, worst_ulp = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t d = std::abs(int64_t(std::bit_cast<int32_t>(got[i])) - int64_t(std::bit_cast<int32_t>(want[i])));
    differ += d != 0;
    worst_ulp = std::max(worst_ulp, d);
  }
  CHECK_MESSAGE(differ == 0, what << ": " << differ << " of " << got.size() << " differ, by up to " << worst_ulp << " ulp");
}

Tensor f32_tensor(const SafetensorsEntry& e) { return Tensor::from_vector(e.as<float>(), e.shape); }

}  // namespace

TEST_CASE("masks by hand") {
  // A 4x4 GT mask whose two left columns are set; box (0,0)-(4,4) at M = 2 samples x = 0.5, 1.5 in the
  // left bin (1 and 0.5: mean 0.75) and x = 2.5, 3.5 in the right one (0).
  std::vector<uint8_t> gt(16, 0);
  for (int r = 0; r < 4; ++r) gt[size_t(4 * r)] = gt[size_t(4 * r + 1)] = 1;
  const std::vector<float> box{0, 0, 4, 4};
  const std::vector<int64_t> idx{0};
  std::vector<float> target(4);
  project_masks_on_boxes_cpu(gt.data(), 1, 4, 4, box.data(), idx.data(), 1, 2, target.data());
  CHECK(target == std::vector<float>{0.75f, 0.f, 0.75f, 0.f});
  const std::vector<int64_t> bad{1};
  CHECK_THROWS_WITH_AS(project_masks_on_boxes_cpu(gt.data(), 1, 4, 4, box.data(), bad.data(), 1, 2, target.data()),
                       doctest::Contains("matched_idxs[0] is 1"), std::runtime_error);

  // A 1x1 mask of 1 padded to 3x3 (0, 1, 0 per axis) for the box (0,0)-(1,1): the box grows by 3 about
  // its centre to the integer box (-1,-1)-(2,2), 4 px wide. Resizing 3 -> 4 samples padded positions
  // 0 (clamped from -0.125), 0.625, 1.375, 2.125: weights of the centre 0, 0.625, 0.625, 0. Pixels 0 and
  // 1 of the image are columns 1 and 2 of that: 0.625^2 each way, the rest 0.
  const std::vector<float> one{1.f}, unit{0, 0, 1, 1};
  std::vector<float> pasted(16, -1.f);
  paste_masks_in_image_cpu(one.data(), 1, 1, unit.data(), 4, 4, pasted.data());
  const float v = 0.625f * 0.625f;
  CHECK(pasted == std::vector<float>{v, v, 0, 0, v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  std::vector<uint8_t> bin(16, 7);
  paste_masks_in_image_binary_cpu(one.data(), 1, 1, unit.data(), 4, 4, 0.39f, bin.data());
  CHECK(bin == std::vector<uint8_t>{1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  paste_masks_in_image_binary_cpu(one.data(), 1, 1, unit.data(), 4, 4, 0.5f, bin.data());
  CHECK(bin == std::vector<uint8_t>(16, 0));
  // No detections: nothing to write.
  paste_masks_in_image_cpu(nullptr, 0, 28, nullptr, 4, 4, nullptr);
}

TEST_CASE("project_masks_on_boxes matches torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("masks.safetensors");
  const auto& g = f.at("gt_masks");
  const std::vector<uint8_t> gt = g.as<uint8_t>();
  const std::vector<float> proposals = fx<float>(f, "proposals");
  const std::vector<int64_t> matched = fx<int64_t>(f, "matched");
  const int64_t n = int64_t(matched.size());
  for (int64_t m : {28, 14}) {
    std::vector<float> out(size_t(n * m * m));
    project_masks_on_boxes_cpu(gt.data(), g.shape[0], g.shape[1], g.shape[2], proposals.data(), matched.data(), n, m,
                               out.data());
    expect_close(out, fx<float>(f, "targets" + std::to_string(m)), 1e-6, 1e-5, "targets" + std::to_string(m));
    // float GT masks take the same path
    std::vector<float> gtf(gt.begin(), gt.end()), out2(out.size());
    project_masks_on_boxes_cpu(gtf.data(), g.shape[0], g.shape[1], g.shape[2], proposals.data(), matched.data(), n, m,
                               out2.data());
    CHECK(out2 == out);
  }
}

TEST_CASE("paste_masks_in_image matches torchvision") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("masks.safetensors");
  const auto& pm = f.at("paste_masks");
  const std::vector<float> masks = pm.as<float>(), boxes = fx<float>(f, "paste_boxes"), want = fx<float>(f, "pasted");
  const std::vector<int64_t> shape = fx<int64_t>(f, "pasted_shape");
  const int64_t n = pm.shape[0], m = pm.shape[3], ih = shape[0], iw = shape[1];
  std::vector<float> out(size_t(n * ih * iw), -1.f);
  paste_masks_in_image_cpu(masks.data(), n, m, boxes.data(), ih, iw, out.data());
  expect_bitwise(out, want, "pasted");
  std::vector<uint8_t> bin(out.size());
  paste_masks_in_image_binary_cpu(masks.data(), n, m, boxes.data(), ih, iw, 0.5f, bin.data());
  size_t set = 0, bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    set += bin[i];
    bad += bin[i] != uint8_t(want[i] > 0.5f);
  }
  CHECK(bad == 0);
  CHECK(set > 100);  // the masks do cover pixels

  // 13 x 13 masks, padding 2, boxes smaller (downscaling) and larger than the padded mask, through the op
  const Tensor pasted =
      paste_masks_in_image(f32_tensor(f.at("paste2_masks")), f32_tensor(f.at("paste2_boxes")), ih, iw, /*padding=*/2);
  CHECK(pasted.shape() == Shape{16, 1, ih, iw});
  expect_bitwise(pasted.to_vector<float>(), fx<float>(f, "pasted2"), "pasted2");
}

TEST_CASE("resize_bilinear is F.interpolate(bilinear) bit for bit") {
  const SafetensorsFile f = mrc::test::load_detection_fixture("masks.safetensors");
  for (int k = 0; k < 4; ++k) {
    const std::string key = "resize" + std::to_string(k);
    const Tensor x = f32_tensor(f.at(key + ".x"));
    const auto& want = f.at(key + ".out");
    const Tensor got = resize_bilinear(x, want.shape[1], want.shape[2]);
    CHECK(got.shape() == Shape{want.shape[0], want.shape[1], want.shape[2]});
    expect_bitwise(got.to_vector<float>(), want.as<float>(), key);
  }
  CHECK_THROWS_WITH_AS(resize_bilinear(Tensor::zeros({2, 3}), 4, 4), doctest::Contains("expected float32 [C, H, W]"),
                       std::invalid_argument);
}
