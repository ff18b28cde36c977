// Device pieces that ROIAlign's CUDA kernels (plain and multi-scale) share with each other: where an
// output element sits, the ROI's sampling grid on one feature map, the atomic scatter of one bin's
// gradient (the backward of detection_math.h's roi_align_bin), and the launch helpers.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/detection_math.h"
#include "kernels/roi_align/roi_align.h"

namespace mrc::kernels::roi_cuda {

// Element idx of a K x C x pooled_h x pooled_w output: ROI k, channel c, bin (ph, pw).
struct BinIndex {
  int64_t k, c, ph, pw;
};

__device__ inline BinIndex bin_index(int64_t idx, int64_t channels, const RoiAlignParams& p) {
  BinIndex b;
  b.pw = idx % p.pooled_w;
  b.ph = (idx / p.pooled_w) % p.pooled_h;
  b.c = (idx / (p.pooled_w * p.pooled_h)) % channels;
  b.k = idx / (p.pooled_w * p.pooled_h * channels);
  return b;
}

// The ROI's sampling grid on a map of shape s at `scale`; false when the ROI's batch index is outside
// the map or the map is empty: the bin is zero and gets no gradient.
__device__ inline bool roi_grid(const float* roi, float scale, const RoiAlignParams& p, const FeatureShape& s,
                                RoiBins<float>& g) {
  g = roi_bins(roi, scale, p.pooled_h, p.pooled_w, p.sampling_ratio, p.aligned);
  return g.batch >= 0 && g.batch < s.n && s.h > 0 && s.w > 0;
}

// The H x W plane of (batch, channel) in an NCHW map.
template <class T>
__device__ inline T* plane_of(T* base, const FeatureShape& s, int64_t batch, int64_t c) {
  return base + (batch * s.c + c) * s.h * s.w;
}

// grad_plane[tap] += grad * w / count for every tap of bin (ph, pw), as the CPU's scatter_channels
// computes each term; atomics make the order of the additions (not the terms) vary. kAtomic false: plain
// additions, for a thread that owns the plane (the deterministic backward).
template <bool kAtomic = true>
__device__ inline void scatter_bin(float* grad_plane, const FeatureShape& s, const RoiBins<float>& g, int64_t ph,
                                   int64_t pw, float grad) {
  const float count = float(g.grid_h * g.grid_w);
  for (int64_t iy = 0; iy < g.grid_h; ++iy) {
    const float y = g.sample_y(ph, iy);
    for (int64_t ix = 0; ix < g.grid_w; ++ix) {
      const BilinearTaps<float> t = bilinear_taps(s.h, s.w, y, g.sample_x(pw, ix));
      if (!t.valid) continue;
      if constexpr (kAtomic) {
        atomicAdd(grad_plane + t.p1, grad * t.w1 / count);
        atomicAdd(grad_plane + t.p2, grad * t.w2 / count);
        atomicAdd(grad_plane + t.p3, grad * t.w3 / count);
        atomicAdd(grad_plane + t.p4, grad * t.w4 / count);
      } else {
        grad_plane[t.p1] += grad * t.w1 / count;
        grad_plane[t.p2] += grad * t.w2 / count;
        grad_plane[t.p3] += grad * t.w3 / count;
        grad_plane[t.p4] += grad * t.w4 / count;
      }
    }
  }
}

// The output elements of channel c in a fixed order: ROI by ROI, bin by bin (the deterministic backward).
template <class F>
__device__ inline void for_channel_bins(int64_t c, int64_t channels, int64_t num_rois, const RoiAlignParams& p, F&& f) {
  for (int64_t k = 0; k < num_rois; ++k)
    for (int64_t ph = 0; ph < p.pooled_h; ++ph)
      for (int64_t pw = 0; pw < p.pooled_w; ++pw) f(((k * channels + c) * p.pooled_h + ph) * p.pooled_w + pw);
}

// Blocks for a grid-stride loop over n elements (capped; the loop covers the rest).
inline int blocks_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return int(b < 65535 * 32 ? b : 65535 * 32);
}

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": CUDA error: " + cudaGetErrorString(e));
}

// Zeroes an NCHW gradient buffer of shape s on `stream`.
inline void zero_async(float* p, const FeatureShape& s, cudaStream_t stream, const char* what) {
  if (s.numel() > 0) check_cuda(cudaMemsetAsync(p, 0, size_t(s.numel()) * sizeof(float), stream), what);
}

}  // namespace mrc::kernels::roi_cuda
