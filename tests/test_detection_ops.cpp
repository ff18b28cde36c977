// The detection kernels as engine ops: roi_align (differentiable in the features) and nms/batched_nms
// on Tensors. The kernels themselves are checked against torchvision in test_roi_align / test_nms.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "kernels/ops.h"

using namespace mrc;

TEST_CASE("roi_align op: hand values on a 5x5 arange") {
  const Tensor x = Tensor::arange(25, DType::Float32).view({1, 1, 5, 5});
  // aligned=false, scale 1: the box [0,0,4,4] split into 2x2 bins of 2x2 pixels, one sample per bin at the
  // bin centre (1,1),(3,1),(1,3),(3,3) -> values y*5+x
  const Tensor rois = Tensor::from_vector(std::vector<float>{0, 0, 0, 4, 4}, {1, 5});
  CHECK(roi_align(x, rois, 2, 2, 1.0, 1, false).to_vector<float>() == std::vector<float>{6, 8, 16, 18});
  // aligned=true shifts the box by -0.5: centres at (0.5,0.5)... -> bilinear averages of neighbours
  CHECK(roi_align(x, rois, 2, 2, 1.0, 1, true).to_vector<float>() == std::vector<float>{3, 5, 13, 15});
  const Tensor none = Tensor::zeros({0, 5});
  CHECK(roi_align(x, none, 7, 7).shape() == Shape{0, 1, 7, 7});
}

// The gradient checks of these ops are entries of the op table (tests/ops/*.def, test_op_table).

TEST_CASE("nms and batched_nms ops") {
  const Tensor boxes = Tensor::from_vector(std::vector<float>{0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 0, 0, 10, 10}, {4, 4});
  const Tensor scores = Tensor::from_vector(std::vector<float>{0.9f, 0.8f, 0.7f, 0.95f});
  // box 3 (0.95) suppresses boxes 0 (IoU 1) and 1 (IoU 81/119 = 0.68); box 2 is apart
  CHECK(nms(boxes, scores, 0.5).to_vector<int64_t>() == std::vector<int64_t>{3, 2});
  CHECK(nms(boxes, scores, 0.7).to_vector<int64_t>() == std::vector<int64_t>{3, 1, 2});
  const Tensor cls = Tensor::from_vector(std::vector<int64_t>{0, 1, 0, 0});
  CHECK(batched_nms(boxes, scores, cls, 0.5).to_vector<int64_t>() == std::vector<int64_t>{3, 1, 2});
  CHECK(nms(Tensor::zeros({0, 4}), Tensor::zeros({0}), 0.5).numel() == 0);
  CHECK_THROWS_WITH(nms(boxes, Tensor::zeros({3}), 0.5), doctest::Contains("scores must be [4]"));
  CHECK_THROWS_WITH(roi_align(Tensor::zeros({1, 1, 4, 4}), Tensor::zeros({2, 4}), 2, 2), doctest::Contains("[K, 5]"));
}
