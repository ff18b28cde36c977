// nms and batched_nms as engine ops (torchvision.ops semantics): kept indices, by decreasing score.
#pragma once
#include "tensor/tensor.h"

namespace mrc {

// boxes [N, 4] (x1, y1, x2, y2), scores [N] of one float dtype; returns int64 [K].
Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_threshold);
// idxs int64 [N]: boxes of different categories never suppress each other.
Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold);
// batched_nms's kept set as uint8 [N] (1 = kept), with no host read: every category suppressed on its own with
// exact coordinates (batched_nms's path above 1000 boxes, whatever N), so one call serves many images (one
// category per image and level) and the result stays on the device.
Tensor batched_nms_mask(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold);

}  // namespace mrc
