// Mask R-CNN's mask geometry as engine ops (torchvision roi_heads): mask targets cropped and resized
// onto proposals, and predicted M x M masks pasted back into the image. Neither is differentiable
// (targets are constants of the loss; pasting happens after inference).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

// project_masks_on_boxes: gt_masks [G, H, W] (uint8 or float32), boxes float32 [n, 4] in image
// coordinates, matched_idxs int64 [n] in [0, G) -> float32 [n, m, m].
Tensor project_masks_on_boxes(const Tensor& gt_masks, const Tensor& boxes, const Tensor& matched_idxs, int64_t m);

// paste_masks_in_image: masks float32 [n, M, M] (or [n, 1, M, M]) probabilities, boxes float32 [n, 4]
// -> float32 [n, 1, height, width] (torchvision's layout), zero outside each box.
Tensor paste_masks_in_image(const Tensor& masks, const Tensor& boxes, int64_t height, int64_t width,
                            int64_t padding = 1);

// Bilinear resampling with torch 1.13's CPU arithmetic (F.interpolate(mode="bilinear",
// align_corners=False), probed with one-hot inputs): along one axis, output i blends inputs first[i] and
// first[i] + 1 with the normalized triangle-filter weights around center = scale * (i + 0.5), scale =
// float(in) / float(out), computed in double. The pasted masks' 0.5 threshold falls exactly on the blend of
// a saturated probability with the zero padding, so these weights must be torch's to the last bit.
struct BilinearAxis {
  std::vector<int64_t> first;
  std::vector<double> w0, w1;
};
BilinearAxis bilinear_axis(int64_t in, int64_t out);
// x float32 [C, H, W] -> [C, out_h, out_w]: along W, rounded to float, then along H (double sums); within two
// float ulps of torch's result. Runs on the host (device tensors are copied).
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace mrc
