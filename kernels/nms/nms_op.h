// nms and batched_nms as engine ops (torchvision.ops semantics): kept indices, by decreasing score.
#pragma once
#include "tensor/tensor.h"

namespace mrc {

// boxes [N, 4] (x1, y1, x2, y2), scores [N] of one float dtype; returns int64 [K].
Tensor nms(const Tensor& boxes, const Tensor& scores, double iou_threshold);
// idxs int64 [N]: boxes of different categories never suppress each other.
Tensor batched_nms(const Tensor& boxes, const Tensor& scores, const Tensor& idxs, double iou_threshold);

}  // namespace mrc
