// Multi-scale ROIAlign as an engine op (torchvision.ops.MultiScaleRoIAlign over the FPN levels):
// each ROI is pooled from the level its size maps to, outputs in ROI order, differentiable in the
// feature maps.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

using ImageSizes = std::vector<std::pair<int64_t, int64_t>>;  // (height, width) per image

// features: the levels finest first, each float32 [N, C, H_l, W_l] on one device; rois [K, 5]
// (batch index, x1, y1, x2, y2) in image coordinates; image_sizes: the images' (unpadded) sizes,
// from which each level's scale is inferred as torchvision does. Returns [K, C, out_h, out_w].
Tensor multiscale_roi_align(const std::vector<Tensor>& features, const Tensor& rois, const ImageSizes& image_sizes,
                            int64_t out_h, int64_t out_w, int64_t sampling_ratio, bool aligned = false);

// torchvision's _convert_to_roi_format: per-image boxes [n_i, 4] -> [sum n_i, 5] with the image index first.
Tensor boxes_to_rois(const std::vector<Tensor>& boxes);

}  // namespace mrc
