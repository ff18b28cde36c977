// ROIAlign on CUDA: forward one thread per output element, backward one thread per grad_output element
// scattering with atomicAdd. The sampling math is detection_math.h's, shared with the CPU twin.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/roi_align/roi_align.h"

namespace mrc::kernels {
namespace {

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": CUDA launch failed: " + cudaGetErrorString(e));
}

int blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 65535 * 32 ? b : 65535 * 32);
}

__global__ void roi_align_forward_kernel(const float* __restrict__ input, FeatureShape s,
                                         const float* __restrict__ rois, int64_t total, RoiAlignParams p,
                                         float scale, float* __restrict__ output) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pw = idx % p.pooled_w;
    const int64_t ph = (idx / p.pooled_w) % p.pooled_h;
    const int64_t c = (idx / (p.pooled_w * p.pooled_h)) % s.c;
    const int64_t k = idx / (p.pooled_w * p.pooled_h * s.c);
    const RoiBins<float> g = roi_bins(rois + k * 5, scale, p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
    float v = 0.f;
    if (g.batch >= 0 && g.batch < s.n && s.h > 0 && s.w > 0)
      v = roi_align_bin(input + (g.batch * s.c + c) * s.h * s.w, s.h, s.w, g, ph, pw);
    output[idx] = v;
  }
}

__global__ void roi_align_backward_kernel(const float* __restrict__ grad_output, FeatureShape s,
                                          const float* __restrict__ rois, int64_t total, RoiAlignParams p,
                                          float scale, float* __restrict__ grad_input) {
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pw = idx % p.pooled_w;
    const int64_t ph = (idx / p.pooled_w) % p.pooled_h;
    const int64_t c = (idx / (p.pooled_w * p.pooled_h)) % s.c;
    const int64_t k = idx / (p.pooled_w * p.pooled_h * s.c);
    const RoiBins<float> g = roi_bins(rois + k * 5, scale, p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
    if (g.batch < 0 || g.batch >= s.n || s.h <= 0 || s.w <= 0) continue;
    const float gb = grad_output[idx];
    const float count = float(g.grid_h * g.grid_w);
    float* gi = grad_input + (g.batch * s.c + c) * s.h * s.w;
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

}  // namespace

void roi_align_forward_cuda(const float* input, const FeatureShape& s, const float* rois, int64_t num_rois,
                            const RoiAlignParams& p, float* output, GpuStream stream) {
  check_roi_align_args(s, num_rois, p, "roi_align_forward_cuda");
  const int64_t total = num_rois * s.c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  roi_align_forward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(input, s, rois, total, p,
                                                                        float(p.spatial_scale), output);
  check_launch("roi_align_forward_cuda");
}

void roi_align_backward_cuda(const float* grad_output, const float* rois, int64_t num_rois, const RoiAlignParams& p,
                             const FeatureShape& s, float* grad_input, GpuStream stream) {
  check_roi_align_args(s, num_rois, p, "roi_align_backward_cuda");
  if (s.numel() > 0) cudaMemsetAsync(grad_input, 0, size_t(s.numel()) * sizeof(float), stream);
  const int64_t total = num_rois * s.c * p.pooled_h * p.pooled_w;
  if (total == 0) return;
  roi_align_backward_kernel<<<blocks_for(total, 256), 256, 0, stream>>>(grad_output, s, rois, total, p,
                                                                         float(p.spatial_scale), grad_input);
  check_launch("roi_align_backward_cuda");
}

}  // namespace mrc::kernels
