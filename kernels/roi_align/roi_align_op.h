// roi_align as an engine op: Tensor in, Tensor out, differentiable in the features (torchvision.ops.roi_align).
#pragma once
#include "tensor/tensor.h"

namespace mrc {

// input [N, C, H, W] float; rois [K, 5] (batch index, x1, y1, x2, y2) of the same dtype and device.
// Returns [K, C, out_h, out_w]. sampling_ratio <= 0 is adaptive; aligned shifts by half a pixel.
Tensor roi_align(const Tensor& input, const Tensor& rois, int64_t out_h, int64_t out_w, double spatial_scale = 1.0,
                 int64_t sampling_ratio = -1, bool aligned = false);

}  // namespace mrc
