// Mask R-CNN's mask geometry on raw buffers: mask targets (GT masks cropped and resized onto proposals
// through ROIAlign, torchvision roi_heads.project_masks_on_boxes) and pasting predicted M x M masks
// back into the image (paste_masks_in_image: padded by 1, box expanded to match, bilinear resize).
#pragma once
#include <cstdint>

#include "kernels/host_device.h"

namespace mrc::kernels {

// gt_masks: num_gt x height x width (uint8 0/1 or float). boxes: num_boxes x 4 proposals in image
// coordinates; matched_idxs: the gt each proposal was matched to. out: num_boxes x m x m floats,
// roi_align(gt_masks[:, None], [idx, box], (m, m), spatial_scale 1, sampling_ratio -1, aligned False).
// Throws std::runtime_error naming the entry when a matched index is outside [0, num_gt).
template <class TMask>
void project_masks_on_boxes_cpu(const TMask* gt_masks, int64_t num_gt, int64_t height, int64_t width,
                                const float* boxes, const int64_t* matched_idxs, int64_t num_boxes, int64_t m,
                                float* out);

// masks: n x m x m probabilities; boxes: n x 4 detections in image coordinates. out: n x im_h x im_w,
// each mask resized onto its box (torchvision's integer rounding) and zero elsewhere. Boxes whose
// region lies entirely outside the image paste nothing (torchvision raises on some of those).
void paste_masks_in_image_cpu(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                              int64_t im_w, float* out, int64_t padding = 1);
// The same, binarised: out = pasted value > threshold (0.5 for Mask R-CNN's final masks).
void paste_masks_in_image_binary_cpu(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                                     int64_t im_w, float threshold, uint8_t* out, int64_t padding = 1);

#if defined(MRC_WITH_CUDA)
// Device pointers, launched on `stream`. Matched indices outside [0, num_gt) give zero targets.
template <class TMask>
void project_masks_on_boxes_cuda(const TMask* gt_masks, int64_t num_gt, int64_t height, int64_t width,
                                 const float* boxes, const int64_t* matched_idxs, int64_t num_boxes, int64_t m,
                                 float* out, GpuStream stream);
void paste_masks_in_image_cuda(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                               int64_t im_w, float* out, GpuStream stream, int64_t padding = 1);
void paste_masks_in_image_binary_cuda(const float* masks, int64_t n, int64_t m, const float* boxes, int64_t im_h,
                                      int64_t im_w, float threshold, uint8_t* out, GpuStream stream,
                                      int64_t padding = 1);
#endif

}  // namespace mrc::kernels
