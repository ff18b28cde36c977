// Shared by the CUDA Mask R-CNN tests: a small config, one photo with two instances, and the comparison of a
// CUDA training pass with the CPU model's (the five losses within 1e-4, every gradient's norm within 1e-3).
#pragma once
#ifdef MRC_WITH_CUDA
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/ops.h"
#include "models/maskrcnn/maskrcnn.h"

namespace mrc::test {

inline maskrcnn::Config small_maskrcnn_config() {
  maskrcnn::Config c;
  c.NUM_CLASSES = 4;
  c.IMAGE_MIN_DIM = c.IMAGE_MAX_DIM = 128;
  c.TRAINABLE_LAYERS = 5;
  return c;
}

// One 120x128 photo (values from `seed`) with two boxes and their masks.
inline std::pair<std::vector<Tensor>, std::vector<maskrcnn::Target>> maskrcnn_inputs(uint64_t seed = 5) {
  Generator g(seed);
  std::vector<Tensor> images = {Tensor::rand({3, 120, 128}, &g)};
  maskrcnn::Target t;
  t.boxes = Tensor::from_vector<float>({10, 12, 70, 90, 50, 30, 120, 110}, {2, 4});
  t.labels = Tensor::from_vector<int64_t>({1, 3}, {2});
  std::vector<uint8_t> m(size_t(2 * 120 * 128), 0);
  for (int64_t y = 14; y < 88; ++y)
    for (int64_t x = 12; x < 68; ++x) m[size_t(y * 128 + x)] = 1;
  for (int64_t y = 32; y < 108; ++y)
    for (int64_t x = 52; x < 118; ++x) m[size_t(120 * 128 + y * 128 + x)] = 1;
  t.masks = Tensor::from_vector(m, {2, 120, 128});
  return {images, {t}};
}

// The device model's losses `lg` against the CPU model's `lc`; then backward on both and every gradient.
inline void expect_training_matches(const maskrcnn::Losses& lc, const maskrcnn::Losses& lg, maskrcnn::MaskRCNN& cpu,
                                    maskrcnn::MaskRCNN& dev) {
  for (const auto& n : maskrcnn::kLossNames)
    CHECK_MESSAGE(std::abs(lg.by_name.at(n).item_double() - lc.by_name.at(n).item_double()) <=
                      1e-4 * std::abs(lc.by_name.at(n).item_double()),
                  n);
  lc.total.backward();
  lg.total.backward();
  const auto pc = cpu.named_parameters(), pg = dev.named_parameters();
  for (size_t k = 0; k < pc.size(); ++k) {
    const Tensor a = pc[k].second.grad(), b = pg[k].second.grad();
    CHECK_MESSAGE(a.defined() == b.defined(), pc[k].first);
    if (!a.defined() || !b.defined()) continue;
    const double rel = norm(sub(b.cpu(), a)).item_double() / std::max(norm(a).item_double(), 1e-30);
    CHECK_MESSAGE(rel <= 1e-3, pc[k].first << ": gradient norm rel " << rel);
  }
}

}  // namespace mrc::test
#endif  // MRC_WITH_CUDA
