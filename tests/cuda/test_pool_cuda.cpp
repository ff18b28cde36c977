// Resampling and max-pool gradients on CUDA against the CPU, bit for bit: max_pool2d's backward over every
// window geometry (the per-input gather must add the CPU's terms in the CPU's order), bilinear resizing
// through both of torch's rounding orders (one channel, several channels) forward and backward,
// resize_bilinear on device tensors and paste_masks_in_image. Skips (passing) without a GPU.
#include <doctest/doctest.h>

#if !defined(MRC_WITH_CUDA)
TEST_CASE("pool and resampling on CUDA (skipped: built without CUDA)") { MESSAGE("built without CUDA: skipped"); }
#else
#include <cmath>
#include <string>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/masks/masks_op.h"
#include "test_util.h"

using namespace mrc;
using namespace mrc::test;

TEST_CASE("max_pool2d backward on CUDA equals the CPU's bit for bit, every window geometry") {
  if (!gpu()) return;
  struct Geometry {
    Int2 k, s, p, d;
    bool ceil;
  };
  // overlapping windows (stride < kernel), gaps (stride > kernel), rectangular, dilated, padded, ceil_mode
  const std::vector<Geometry> geometries = {
      {3, 2, 1, 1, false}, {3, 1, 1, 1, false}, {2, 2, 0, 1, true},    {3, 2, 1, 1, true},   {1, 2, 0, 1, false},
      {2, 3, 0, 1, false}, {3, 1, 1, 2, false}, {{3, 2}, {1, 2}, {1, 0}, {2, 1}, true}, {5, 3, 2, 1, true},
      {{1, 4}, {2, 1}, {0, 2}, {1, 1}, false}};
  for (DType dt : {DType::Float32, DType::Float64})
    for (size_t i = 0; i < geometries.size(); ++i) {
      const Geometry& g = geometries[i];
      const std::string what = "geometry " + std::to_string(i) + " " + dtype_name(dt);
      const auto f = [g](const std::vector<Tensor>& in) { return max_pool2d(in[0], g.k, g.s, g.p, g.d, g.ceil); };
      check_op(what, f, {param({2, 3, 17, 14}, 10 + i, dt)}, {0, 0}, {0, 0});
      // integer values: many ties, so several windows pick the same element and its sum has many terms
      const Tensor ties = Tensor::randint(0, 3, {1, 2, 12, 15}, nullptr, dt).requires_grad_(true);
      check_op(what + " ties", f, {ties}, {0, 0}, {0, 0});
    }
  // an FPN-sized plane and NaN windows
  Tensor big = randn({1, 4, 100, 136}, 5);
  big.narrow(2, 40, 2).narrow(3, 7, 5).fill_(NAN);
  big.requires_grad_(true);
  check_op("FPN-sized, NaN", [](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); }, {big}, {0, 0},
           {0, 0});
}

TEST_CASE("interpolate_bilinear on CUDA equals the CPU bit for bit: both rounding orders, both directions") {
  if (!gpu()) return;
  struct Case {
    Shape in;
    int64_t oh, ow;
    bool ac;
  };
  // one channel: torch's channels-last order (double sums); several: its generic order (fused rows)
  const std::vector<Case> cases = {{{1, 1, 13, 17}, 29, 11, false}, {{2, 1, 97, 71}, 40, 33, false},
                                   {{1, 3, 37, 53}, 61, 87, false}, {{2, 4, 16, 9}, 16, 23, false},
                                   {{1, 2, 13, 1}, 5, 11, false},   {{2, 3, 19, 23}, 41, 7, true},
                                   {{1, 5, 1, 1}, 3, 4, false}};
  for (DType dt : {DType::Float32, DType::Float64})
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      check_op("case " + std::to_string(i) + " " + dtype_name(dt),
               [c](const std::vector<Tensor>& in) { return interpolate_bilinear(in[0], c.oh, c.ow, c.ac); },
               {param(c.in, 20 + i, dt)}, {0, 0}, {0, 0});
    }
}

TEST_CASE("resize_bilinear and paste_masks_in_image on CUDA tensors stay on the device, equal to the CPU") {
  if (!gpu()) return;
  const Tensor img = Tensor::rand({3, 45, 61}, nullptr);
  const Tensor up = resize_bilinear(on_gpu(img), 80, 107), down = resize_bilinear(on_gpu(img), 20, 33);
  expect_equal(up, resize_bilinear(img, 80, 107), "resize up");
  expect_equal(down, resize_bilinear(img, 20, 33), "resize down");

  Generator gen(7);
  Tensor masks = Tensor::rand({12, 1, 13, 13}, &gen);
  masks = where(gt(masks, 0.7), Tensor::ones_like(masks), masks);  // saturated: blends with the padding cross 0.5
  const Tensor xy = mul(Tensor::rand({12, 2}, &gen), 60.0), wh = add(mul(Tensor::rand({12, 2}, &gen), 40.0), 0.5);
  const Tensor boxes = cat({add(xy, -10.0), add(xy, wh)}, 1);
  for (int64_t padding : {1, 2})
    expect_equal(paste_masks_in_image(on_gpu(masks), on_gpu(boxes), 70, 95, padding),
                 paste_masks_in_image(masks, boxes, 70, 95, padding), "paste, padding " + std::to_string(padding));
}
#endif
