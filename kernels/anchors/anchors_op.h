// Anchor generation as an engine op (torchvision AnchorGenerator.forward for one image size): the
// anchors of every pyramid level, level after level, on the requested device.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

// sizes[l], aspect_ratios[l]: level l's anchor sizes and ratios; feature_sizes[l]: its (height, width);
// image_h, image_w: the batched (padded) image tensor's size, from which each level's stride is
// image // feature as torchvision computes it. Returns float32 [sum_l H_l W_l A_l, 4] (x1, y1, x2, y2),
// per level cell-major (y, then x, then the level's cell anchors).
Tensor generate_anchors(const std::vector<std::vector<double>>& sizes,
                        const std::vector<std::vector<double>>& aspect_ratios,
                        const std::vector<std::pair<int64_t, int64_t>>& feature_sizes, int64_t image_h, int64_t image_w,
                        Device device = Device::cpu());

// Anchors per location of each level (sizes[l].size() * aspect_ratios[l].size()).
std::vector<int64_t> anchors_per_location(const std::vector<std::vector<double>>& sizes,
                                          const std::vector<std::vector<double>>& aspect_ratios);

}  // namespace mrc
