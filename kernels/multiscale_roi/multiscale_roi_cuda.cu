// Multi-scale ROIAlign on CUDA: one kernel over all ROIs; each thread maps its ROI to a level with the
// shared LevelMapper and samples that level (no gather/scatter of ROIs per level).
#include "kernels/multiscale_roi/multiscale_roi.h"
#include "kernels/roi_align/roi_align_cuda.cuh"

namespace mrc::kernels {
namespace {

using namespace roi_cuda;

struct LevelPointers {
  const float* features[kMaxPyramidLevels];
  float* grads[kMaxPyramidLevels];
};

__device__ int64_t level_of(const float* roi, const Pyramid& pyr) {
  if (pyr.num_levels == 1) return 0;
  const int64_t l = fpn_level(roi + 1, pyr.k_min, pyr.k_max, pyr.canonical_scale, pyr.canonical_level, pyr.eps);
  return l < pyr.num_levels ? l : -1;
}

// Output element idx: its bin, its ROI's level (l) and sampling grid there; false for a zero bin (no
// level, or a batch index outside the maps).
__device__ bool locate(int64_t idx, const Pyramid& pyr, const float* rois, const RoiAlignParams& p, BinIndex& b,
                       int64_t& l, RoiBins<float>& g) {
  b = bin_index(idx, pyr.shape[0].c, p);
  const float* roi = rois + b.k * 5;
  l = level_of(roi, pyr);
  return l >= 0 && roi_grid(roi, float(pyr.scale[l]), p, pyr.shape[l], g);
}

__global__ void fpn_levels_kernel(const float* __restrict__ rois, int64_t num_rois, Pyramid pyr,
                                  int64_t* __restrict__ levels) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < num_rois; k += int64_t(gridDim.x) * blockDim.x)
    levels[k] = level_of(rois + k * 5, pyr);
}

__global__ void multiscale_forward_kernel(LevelPointers ptrs, Pyramid pyr, const float* __restrict__ rois,
                                          int64_t total, RoiAlignParams p, float* __restrict__ output) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    BinIndex b;
    int64_t l;
    RoiBins<float> g;
    output[idx] = locate(idx, pyr, rois, p, b, l, g)
                      ? roi_align_bin(plane_of(ptrs.features[l], pyr.shape[l], g.batch, b.c), pyr.shape[l].h,
                                      pyr.shape[l].w, g, b.ph, b.pw)
                      : 0.f;
  }
}

__global__ void multiscale_backward_kernel(LevelPointers ptrs, Pyramid pyr, const float* __restrict__ grad_output,
                                           const float* __restrict__ rois, int64_t total, RoiAlignParams p) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    BinIndex b;
    int64_t l;
    RoiBins<float> g;
    if (locate(idx, pyr, rois, p, b, l, g))
      scatter_bin(plane_of(ptrs.grads[l], pyr.shape[l], g.batch, b.c), pyr.shape[l], g, b.ph, b.pw, grad_output[idx]);
  }
}

// Deterministic: thread c owns channel c of every level and image and adds its bins in order.
__global__ void multiscale_backward_ordered_kernel(LevelPointers ptrs, Pyramid pyr, const float* __restrict__ grad_output,
                                                   const float* __restrict__ rois, int64_t num_rois, RoiAlignParams p) {
  const int64_t channels = pyr.shape[0].c;
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < channels; c += int64_t(gridDim.x) * blockDim.x)
    for_channel_bins(c, channels, num_rois, p, [&](int64_t idx) {
      BinIndex b;
      int64_t l;
      RoiBins<float> g;
      if (locate(idx, pyr, rois, p, b, l, g))
        scatter_bin<false>(plane_of(ptrs.grads[l], pyr.shape[l], g.batch, b.c), pyr.shape[l], g, b.ph, b.pw,
                           grad_output[idx]);
    });
}

}  // namespace

void fpn_levels_cuda(const float* rois, int64_t num_rois, const Pyramid& pyr, int64_t* levels, GpuStream stream) {
  if (num_rois <= 0) return;
  fpn_levels_kernel<<<blocks_for(num_rois, 256), 256, 0, stream>>>(rois, num_rois, pyr, levels);
  check_cuda(cudaGetLastError(), "fpn_levels_cuda: launch");
}

void multiscale_roi_align_forward_cuda(const float* const* features, const Pyramid& pyr, const float* rois,
                                       int64_t num_rois, const RoiAlignParams& p, float* output, GpuStream stream) {
  check_pyramid(pyr, num_rois, p, "multiscale_roi_align_forward_cuda");
  LevelPointers ptrs{};
  for (int l = 0; l < pyr.num_levels; ++l) ptrs.features[l] = features[l];
  const int64_t total = num_rois * pyr.shape[0].c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  multiscale_forward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(ptrs, pyr, rois, total, p, output);
  check_cuda(cudaGetLastError(), "multiscale_roi_align_forward_cuda: launch");
}

void multiscale_roi_align_backward_cuda(const float* grad_output, const Pyramid& pyr, const float* rois,
                                        int64_t num_rois, const RoiAlignParams& p, float* const* grads,
                                        GpuStream stream) {
  check_pyramid(pyr, num_rois, p, "multiscale_roi_align_backward_cuda");
  LevelPointers ptrs{};
  for (int l = 0; l < pyr.num_levels; ++l) {
    ptrs.grads[l] = grads[l];
    zero_async(grads[l], pyr.shape[l], stream, "multiscale_roi_align_backward_cuda: zeroing grads");
  }
  const int64_t total = num_rois * pyr.shape[0].c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  if (roi_align_deterministic())
    multiscale_backward_ordered_kernel<<<blocks_for(pyr.shape[0].c, 64), 64, 0, stream>>>(ptrs, pyr, grad_output, rois,
                                                                                          num_rois, p);
  else
    multiscale_backward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(ptrs, pyr, grad_output, rois, total, p);
  check_cuda(cudaGetLastError(), "multiscale_roi_align_backward_cuda: launch");
}

}  // namespace mrc::kernels
