// Multi-scale ROIAlign over FPN levels (torchvision.ops.MultiScaleRoIAlign): each ROI is pooled from the
// level its size maps to (LevelMapper: canonical scale 224 at level 4), results in ROI order.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/host_device.h"
#include "kernels/roi_align/roi_align.h"

namespace mrc::kernels {

inline constexpr int kMaxPyramidLevels = 8;

// The pyramid, finest level first. scale[l] is level l's spatial scale (1/stride), as
// infer_pyramid_scales returns; k_min/k_max are the pyramid levels of the first/last entry.
struct Pyramid {
  int num_levels = 0;
  FeatureShape shape[kMaxPyramidLevels];  // every level has the same N and C
  double scale[kMaxPyramidLevels] = {};
  int64_t k_min = 2, k_max = 5;
  int64_t canonical_scale = 224, canonical_level = 4;
  double eps = 1e-6;
};

// torchvision _setup_scales: scale per level from its feature height over the largest image height
// among image_sizes ((h, w) pairs), rounded to a power of two; k_min/k_max from the first/last.
// Throws std::runtime_error on an empty image list or a level count outside [1, kMaxPyramidLevels].
Pyramid infer_pyramid(const std::vector<FeatureShape>& levels, const std::vector<std::pair<int64_t, int64_t>>& image_sizes);

// Throws std::runtime_error naming `where` unless the pyramid has 1..kMaxPyramidLevels levels sharing one
// batch size and channel count, each with valid ROIAlign geometry. Every entry point, CPU and CUDA, checks.
void check_pyramid(const Pyramid& pyr, int64_t num_rois, const RoiAlignParams& p, const char* where);

// Level index (0-based, relative to k_min) of each ROI; rois are K x 5 (batch, x1, y1, x2, y2).
// With one level every ROI maps to 0 (torchvision skips the mapper). -1: NaN box (zero output).
void fpn_levels_cpu(const float* rois, int64_t num_rois, const Pyramid& pyr, int64_t* levels);

// output: K x C x pooled_h x pooled_w. features[l] is level l's NCHW map. p.spatial_scale is ignored
// (each level has its own). ROIs with a bad batch index throw std::runtime_error.
void multiscale_roi_align_forward_cpu(const float* const* features, const Pyramid& pyr, const float* rois,
                                      int64_t num_rois, const RoiAlignParams& p, float* output);
// grads[l]: level l's gradient buffer, overwritten.
void multiscale_roi_align_backward_cpu(const float* grad_output, const Pyramid& pyr, const float* rois,
                                       int64_t num_rois, const RoiAlignParams& p, float* const* grads);

#if defined(MRC_WITH_CUDA)
// Device pointers (the arrays of level pointers themselves live on the host).
void fpn_levels_cuda(const float* rois, int64_t num_rois, const Pyramid& pyr, int64_t* levels, GpuStream stream);
void multiscale_roi_align_forward_cuda(const float* const* features, const Pyramid& pyr, const float* rois,
                                       int64_t num_rois, const RoiAlignParams& p, float* output, GpuStream stream);
void multiscale_roi_align_backward_cuda(const float* grad_output, const Pyramid& pyr, const float* rois,
                                        int64_t num_rois, const RoiAlignParams& p, float* const* grads,
                                        GpuStream stream);
#endif

}  // namespace mrc::kernels
