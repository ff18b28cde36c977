// Box operations of the detection heads as engine ops over the raw kernels (torchvision semantics):
// IoU matrix, BoxCoder encode/decode, clipping, small-box removal, the Matcher and the balanced
// positive/negative sampler. None is differentiable: torchvision only ever encodes targets and decodes
// detached deltas (RPN proposals, eval-time detections), and the losses compare deltas directly.
#pragma once
#include <cstdint>

#include "kernels/box_ops/box_ops.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace mrc {

using kernels::BoxCoderWeights;
using kernels::MatcherParams;

// a [n, 4], b [m, 4] of one float dtype -> [n, m].
Tensor box_iou(const Tensor& a, const Tensor& b);
// BoxCoder.encode_single: reference [n, 4] (matched gt), proposals [n, 4] -> deltas [n, 4].
Tensor encode_boxes(const Tensor& reference, const Tensor& proposals, const BoxCoderWeights& w);
// BoxCoder.decode_single: deltas [n, 4k], boxes [n, 4] -> [n, k, 4]; dw, dh clamped at `clip`.
Tensor decode_boxes(const Tensor& deltas, const Tensor& boxes, const BoxCoderWeights& w,
                    double clip = kernels::kBoxXformClip);
// clip_boxes_to_image: boxes [..., 4] with x in [0, width], y in [0, height].
Tensor clip_boxes(const Tensor& boxes, int64_t height, int64_t width);
// Ascending int64 indices of the boxes [n, 4] whose width and height are >= min_size.
Tensor remove_small_boxes(const Tensor& boxes, double min_size);
// Matcher: quality [m gt, n predictions] -> int64 [n] gt index, or -1 (below low) / -2 (between).
Tensor match_boxes(const Tensor& quality, const MatcherParams& p);

// BalancedPositiveNegativeSampler for one image: labels int64 [n] (>= 1 positive, 0 negative, < 0
// ignored) -> uint8 masks of the picked positives and negatives, drawn from `gen`.
struct SampledMasks {
  Tensor positive, negative;  // uint8 [n], on the labels' device
};
SampledMasks balanced_sample(const Tensor& labels, int64_t batch_size_per_image, double positive_fraction,
                             Generator& gen);

// The same sampler without reading the labels on the host (balanced_sample_device.cpp): a random key per
// candidate (drawn from `gen` and uploaded), each pool (positives, negatives) ranked by its keys with one
// sort on the labels' device, the first min(pool, quota) of each rank order taken. The negative quota,
// batch_size_per_image - (positives taken), stays a device scalar. The draw is as uniform as randperm's
// but a different one: the same Generator state picks other candidates than balanced_sample.
SampledMasks balanced_sample_device(const Tensor& labels, int64_t batch_size_per_image, double positive_fraction,
                                    Generator& gen);

}  // namespace mrc
