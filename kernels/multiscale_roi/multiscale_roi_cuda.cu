// Multi-scale ROIAlign on CUDA: one kernel over all ROIs; each thread maps its ROI to a level with the
// shared LevelMapper and samples that level (no gather/scatter of ROIs per level).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/multiscale_roi/multiscale_roi.h"

namespace mrc::kernels {
namespace {

struct LevelPointers {
  const float* features[kMaxPyramidLevels];
  float* grads[kMaxPyramidLevels];
};

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": CUDA launch failed: " + cudaGetErrorString(e));
}

int blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 65535 * 32 ? b : 65535 * 32);
}

__device__ int64_t level_of(const float* roi, const Pyramid& pyr) {
  if (pyr.num_levels == 1) return 0;
  const int64_t l = fpn_level(roi + 1, pyr.k_min, pyr.k_max, pyr.canonical_scale, pyr.canonical_level, pyr.eps);
  return l < pyr.num_levels ? l : -1;
}

__global__ void fpn_levels_kernel(const float* __restrict__ rois, int64_t num_rois, Pyramid pyr,
                                  int64_t* __restrict__ levels) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < num_rois; k += int64_t(gridDim.x) * blockDim.x)
    levels[k] = level_of(rois + k * 5, pyr);
}

__global__ void multiscale_forward_kernel(LevelPointers ptrs, Pyramid pyr, const float* __restrict__ rois,
                                          int64_t total, RoiAlignParams p, float* __restrict__ output) {
  const int64_t C = pyr.shape[0].c;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pw = idx % p.pooled_w;
    const int64_t ph = (idx / p.pooled_w) % p.pooled_h;
    const int64_t c = (idx / (p.pooled_w * p.pooled_h)) % C;
    const int64_t k = idx / (p.pooled_w * p.pooled_h * C);
    const float* roi = rois + k * 5;
    const int64_t l = level_of(roi, pyr);
    float v = 0.f;
    if (l >= 0) {
      const FeatureShape s = pyr.shape[l];
      const RoiBins<float> g =
          roi_bins(roi, float(pyr.scale[l]), p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
      if (g.batch >= 0 && g.batch < s.n && s.h > 0 && s.w > 0)
        v = roi_align_bin(ptrs.features[l] + (g.batch * s.c + c) * s.h * s.w, s.h, s.w, g, ph, pw);
    }
    output[idx] = v;
  }
}

__global__ void multiscale_backward_kernel(LevelPointers ptrs, Pyramid pyr, const float* __restrict__ grad_output,
                                           const float* __restrict__ rois, int64_t total, RoiAlignParams p) {
  const int64_t C = pyr.shape[0].c;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pw = idx % p.pooled_w;
    const int64_t ph = (idx / p.pooled_w) % p.pooled_h;
    const int64_t c = (idx / (p.pooled_w * p.pooled_h)) % C;
    const int64_t k = idx / (p.pooled_w * p.pooled_h * C);
    const float* roi = rois + k * 5;
    const int64_t l = level_of(roi, pyr);
    if (l < 0) continue;
    const FeatureShape s = pyr.shape[l];
    const RoiBins<float> g = roi_bins(roi, float(pyr.scale[l]), p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
    if (g.batch < 0 || g.batch >= s.n || s.h <= 0 || s.w <= 0) continue;
    const float gb = grad_output[idx];
    const float count = float(g.grid_h * g.grid_w);
    float* gi = ptrs.grads[l] + (g.batch * s.c + c) * s.h * s.w;
    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
      const float y = g.sample_y(ph, iy);
      for (int64_t ix = 0; ix < g.grid_w; ++ix) {
        const BilinearTaps<float> t = bilinear_taps(s.h, s.w, y, g.sample_x(pw, ix));
        if (!t.valid) continue;
        atomicAdd(gi + t.p1, gb * t.w1 / count);
        atomicAdd(gi + t.p2, gb * t.w2 / count);
        atomicAdd(gi + t.p3, gb * t.w3 / count);
        atomicAdd(gi + t.p4, gb * t.w4 / count);
      }
    }
  }
}

void check_levels(const Pyramid& pyr, int64_t num_rois, const RoiAlignParams& p, const char* where) {
  if (pyr.num_levels < 1 || pyr.num_levels > kMaxPyramidLevels)
    throw std::runtime_error(std::string(where) + ": pyramid has " + std::to_string(pyr.num_levels) +
                             " levels, expected 1.." + std::to_string(kMaxPyramidLevels));
  for (int l = 0; l < pyr.num_levels; ++l) {
    RoiAlignParams lp = p;
    lp.spatial_scale = pyr.scale[l];
    check_roi_align_args(pyr.shape[l], num_rois, lp, where);
  }
}

}  // namespace

void fpn_levels_cuda(const float* rois, int64_t num_rois, const Pyramid& pyr, int64_t* levels, GpuStream stream) {
  if (num_rois <= 0) return;
  fpn_levels_kernel<<<blocks_for(num_rois, 256), 256, 0, stream>>>(rois, num_rois, pyr, levels);
  check_launch("fpn_levels_cuda");
}

void multiscale_roi_align_forward_cuda(const float* const* features, const Pyramid& pyr, const float* rois,
                                       int64_t num_rois, const RoiAlignParams& p, float* output, GpuStream stream) {
  check_levels(pyr, num_rois, p, "multiscale_roi_align_forward_cuda");
  LevelPointers ptrs{};
  for (int l = 0; l < pyr.num_levels; ++l) ptrs.features[l] = features[l];
  const int64_t total = num_rois * pyr.shape[0].c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  multiscale_forward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(ptrs, pyr, rois, total, p, output);
  check_launch("multiscale_roi_align_forward_cuda");
}

void multiscale_roi_align_backward_cuda(const float* grad_output, const Pyramid& pyr, const float* rois,
                                        int64_t num_rois, const RoiAlignParams& p, float* const* grads,
                                        GpuStream stream) {
  check_levels(pyr, num_rois, p, "multiscale_roi_align_backward_cuda");
  LevelPointers ptrs{};
  for (int l = 0; l < pyr.num_levels; ++l) {
    ptrs.grads[l] = grads[l];
    if (pyr.shape[l].numel() > 0)
      cudaMemsetAsync(grads[l], 0, size_t(pyr.shape[l].numel()) * sizeof(float), stream);
  }
  const int64_t total = num_rois * pyr.shape[0].c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  multiscale_backward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(ptrs, pyr, grad_output, rois, total, p);
  check_launch("multiscale_roi_align_backward_cuda");
}

}  // namespace mrc::kernels
