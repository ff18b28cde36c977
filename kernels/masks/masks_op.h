// Mask R-CNN's mask geometry as engine ops (torchvision roi_heads): mask targets cropped and resized
// onto proposals, and predicted M x M masks pasted back into the image. Neither is differentiable
// (targets are constants of the loss; pasting happens after inference).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mrc {

// project_masks_on_boxes: gt_masks [G, H, W] (uint8 or float32), boxes float32 [n, 4] in image
// coordinates, matched_idxs int64 [n] in [0, G) -> float32 [n, m, m].
Tensor project_masks_on_boxes(const Tensor& gt_masks, const Tensor& boxes, const Tensor& matched_idxs, int64_t m);

// paste_masks_in_image: masks float32 [n, M, M] (or [n, 1, M, M]) probabilities, boxes float32 [n, 4]
// -> float32 [n, 1, height, width] (torchvision's layout), zero outside each box.
Tensor paste_masks_in_image(const Tensor& masks, const Tensor& boxes, int64_t height, int64_t width,
                            int64_t padding = 1);

// F.interpolate(x[None], size=(out_h, out_w), mode="bilinear", align_corners=False)[0] for float32
// [C, H, W] on either device: interpolate_bilinear, bit-exact with torch 1.13's CPU result (its taps and
// rounding are kernels/pool/pool_math.h's, which paste_masks_in_image uses too).
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace mrc
