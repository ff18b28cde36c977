// ROIAlign (torchvision.ops.roi_align semantics) on raw NCHW buffers: CPU (float, double) and CUDA
// (float). Callers allocate every output; the tensor-level op with autograd wraps these.
#pragma once
#include <atomic>
#include <cstdint>

#include "kernels/host_device.h"

namespace mrc::kernels {

struct RoiAlignParams {
  int64_t pooled_h = 7, pooled_w = 7;
  double spatial_scale = 1.0;
  int64_t sampling_ratio = -1;  // <= 0: adaptive, ceil(roi_size / pooled_size) points per bin
  bool aligned = false;         // half-pixel offset (Detectron2 "ROIAlignV2")
};

// Feature map geometry: N images, C channels, H x W, contiguous NCHW.
struct FeatureShape {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t numel() const { return n * c * h * w; }
};

// rois: K x 5 rows (batch_index, x1, y1, x2, y2) in image coordinates.
// output: K x C x pooled_h x pooled_w, overwritten.
// Throws std::runtime_error naming the field on a bad shape, parameter or batch index.
template <class T>
void roi_align_forward_cpu(const T* input, const FeatureShape& shape, const T* rois, int64_t num_rois,
                           const RoiAlignParams& p, T* output);

// grad_output: K x C x pooled_h x pooled_w (contiguous); grad_input: N x C x H x W, overwritten.
// Deterministic: threads split the channels, so each element is summed in one fixed order.
template <class T>
void roi_align_backward_cpu(const T* grad_output, const T* rois, int64_t num_rois, const RoiAlignParams& p,
                            const FeatureShape& shape, T* grad_input);

// Checks shapes, parameters and (on the host) batch indices; the CPU entry points call it.
void check_roi_align_args(const FeatureShape& shape, int64_t num_rois, const RoiAlignParams& p,
                          const char* where);
template <class T>
void check_roi_batch_indices(const T* rois, int64_t num_rois, int64_t batch, const char* where);

// The CUDA backward's order of additions (plain and multi-scale ROIAlign): atomicAdd from one thread per
// grad_output element (default: fast; the rounding of the sums varies from run to run), or deterministic:
// one thread per channel adds ROI by ROI, bin by bin, so every run gives the same bits (slower: the
// parallelism is the channel count). The CPU backward is always deterministic.
inline std::atomic<bool>& roi_align_deterministic_flag() {
  static std::atomic<bool> on{false};
  return on;
}
inline void set_roi_align_deterministic(bool on) { roi_align_deterministic_flag() = on; }
inline bool roi_align_deterministic() { return roi_align_deterministic_flag(); }

#if defined(MRC_WITH_CUDA)
// Device pointers; launched on `stream`, no synchronisation. ROIs whose batch index is outside
// [0, N) produce zeros (the host check would need a copy; the tensor wrapper validates instead).
void roi_align_forward_cuda(const float* input, const FeatureShape& shape, const float* rois, int64_t num_rois,
                            const RoiAlignParams& p, float* output, GpuStream stream);
// grad_input is overwritten (zeroed, then accumulated with atomicAdd, or in order: roi_align_deterministic()).
void roi_align_backward_cuda(const float* grad_output, const float* rois, int64_t num_rois,
                             const RoiAlignParams& p, const FeatureShape& shape, float* grad_input,
                             GpuStream stream);
#endif

}  // namespace mrc::kernels
