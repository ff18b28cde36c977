// The detection kernels as engine ops: roi_align (differentiable in the features) and nms/batched_nms/
// batched_nms_mask on Tensors. The kernels themselves are checked against torchvision in test_roi_align / test_nms.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "gradcheck.h"
#include "kernels/ops.h"
#include "tensor/host_sync.h"

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

TEST_CASE("batched_nms_mask: batched_nms's kept set as a mask, each category on its own, no host read") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (const int64_t n : {1500, 300}) {
    CAPTURE(n);
    std::vector<float> b, sc;
    std::vector<int64_t> cat;
    for (int64_t i = 0; i < n; ++i) {
      const float x = 80 * u(rng), y = 80 * u(rng);
      b.insert(b.end(), {x, y, x + 1 + 20 * u(rng), y + 1 + 20 * u(rng)});
      sc.push_back(u(rng));
      cat.push_back(int64_t(5 * u(rng)));
    }
    const Tensor boxes = Tensor::from_vector(b, {n, 4}), scores = Tensor::from_vector(sc), cats = Tensor::from_vector(cat);
    HostSyncScope reads;
    const Tensor mask = batched_nms_mask(boxes, scores, cats, 0.5);
    CHECK(reads.count() == 0);
    REQUIRE(mask.shape() == Shape{n});
    CHECK(mask.dtype() == DType::UInt8);
    std::set<int64_t> got;
    const std::vector<uint8_t> m = mask.to_vector<uint8_t>();
    for (int64_t i = 0; i < n; ++i)
      if (m[size_t(i)]) got.insert(i);
    // the reference: nms on each category's boxes alone (batched_nms's own path above 1000 boxes; below, its
    // coordinate trick rounds otherwise)
    std::set<int64_t> want;
    for (int64_t c = 0; c < 5; ++c) {
      std::vector<int64_t> members;
      for (int64_t i = 0; i < n; ++i)
        if (cat[size_t(i)] == c) members.push_back(i);
      const Tensor idx = Tensor::from_vector(members);
      for (const int64_t k : nms(index_select(boxes, 0, idx), index_select(scores, 0, idx), 0.5).to_vector<int64_t>())
        want.insert(members[size_t(k)]);
    }
    CHECK(got == want);
    CHECK(got.size() < size_t(n));  // overlapping boxes: some suppressed
    if (n > 1000) {
      const std::vector<int64_t> k = batched_nms(boxes, scores, cats, 0.5).to_vector<int64_t>();
      CHECK(std::set<int64_t>(k.begin(), k.end()) == got);
    }
  }
  CHECK(batched_nms_mask(Tensor::zeros({0, 4}), Tensor::zeros({0}), Tensor::zeros({0}, DType::Int64), 0.5).numel() == 0);
  CHECK_THROWS_WITH(batched_nms_mask(Tensor::zeros({2, 4}), Tensor::zeros({2}), Tensor::zeros({2}), 0.5),
                    doctest::Contains("idxs must be int64 [2]"));
}
