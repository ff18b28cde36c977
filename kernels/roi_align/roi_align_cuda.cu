// ROIAlign on CUDA: forward one thread per output element, backward one thread per grad_output element
// scattering with atomicAdd (or, deterministic, one thread per channel adding in order). The sampling math is detection_math.h's, shared with the CPU twin.
#include "kernels/roi_align/roi_align_cuda.cuh"

namespace mrc::kernels {
namespace {

using namespace roi_cuda;

__global__ void roi_align_forward_kernel(const float* __restrict__ input, FeatureShape s,
                                         const float* __restrict__ rois, int64_t total, RoiAlignParams p,
                                         float scale, float* __restrict__ output) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const BinIndex b = bin_index(idx, s.c, p);
    RoiBins<float> g;
    output[idx] = roi_grid(rois + b.k * 5, scale, p, s, g)
                      ? roi_align_bin(plane_of(input, s, g.batch, b.c), s.h, s.w, g, b.ph, b.pw)
                      : 0.f;
  }
}

__global__ void roi_align_backward_kernel(const float* __restrict__ grad_output, FeatureShape s,
                                          const float* __restrict__ rois, int64_t total, RoiAlignParams p,
                                          float scale, float* __restrict__ grad_input) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const BinIndex b = bin_index(idx, s.c, p);
    RoiBins<float> g;
    if (roi_grid(rois + b.k * 5, scale, p, s, g))
      scatter_bin(plane_of(grad_input, s, g.batch, b.c), s, g, b.ph, b.pw, grad_output[idx]);
  }
}

// Deterministic: thread c owns channel c of every image and adds its bins in order.
__global__ void roi_align_backward_ordered_kernel(const float* __restrict__ grad_output, FeatureShape s,
                                                  const float* __restrict__ rois, int64_t num_rois, RoiAlignParams p,
                                                  float scale, float* __restrict__ grad_input) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < s.c; c += int64_t(gridDim.x) * blockDim.x)
    for_channel_bins(c, s.c, num_rois, p, [&](int64_t idx) {
      const BinIndex b = bin_index(idx, s.c, p);
      RoiBins<float> g;
      if (roi_grid(rois + b.k * 5, scale, p, s, g))
        scatter_bin<false>(plane_of(grad_input, s, g.batch, b.c), s, g, b.ph, b.pw, grad_output[idx]);
    });
}

}  // namespace

void roi_align_forward_cuda(const float* input, const FeatureShape& s, const float* rois, int64_t num_rois,
                            const RoiAlignParams& p, float* output, GpuStream stream) {
  check_roi_align_args(s, num_rois, p, "roi_align_forward_cuda");
  const int64_t total = num_rois * s.c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  roi_align_forward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(input, s, rois, total, p,
                                                                        float(p.spatial_scale), output);
  check_cuda(cudaGetLastError(), "roi_align_forward_cuda: launch");
}

void roi_align_backward_cuda(const float* grad_output, const float* rois, int64_t num_rois, const RoiAlignParams& p,
                             const FeatureShape& s, float* grad_input, GpuStream stream) {
  check_roi_align_args(s, num_rois, p, "roi_align_backward_cuda");
  zero_async(grad_input, s, stream, "roi_align_backward_cuda: zeroing grad_input");
  const int64_t total = num_rois * s.c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  if (roi_align_deterministic())
    roi_align_backward_ordered_kernel<<<blocks_for(s.c, 64), 64, 0, stream>>>(grad_output, s, rois, num_rois, p,
                                                                              float(p.spatial_scale), grad_input);
  else
    roi_align_backward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(grad_output, s, rois, total, p,
                                                                           float(p.spatial_scale), grad_input);
  check_cuda(cudaGetLastError(), "roi_align_backward_cuda: launch");
}

}  // namespace mrc::kernels
