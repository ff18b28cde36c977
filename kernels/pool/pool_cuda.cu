// CUDA pooling and resampling kernels: one thread per output element (grid-stride); backward passes
// scatter with atomicAdd where windows overlap. Index math shared with the CPU in pool_math.h.
#include <cmath>

#include "kernels/pool/pool.h"
#include "kernels/pool/pool_math.h"
#include "tensor/cuda/context.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

template <class T>
__global__ void max_pool_forward_kernel(const T* x, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        Pool2dParams p, T* out, int64_t* idx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    const T* in = x + pl * H * W;
    T best = -INFINITY;
    int64_t arg = -1;
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      const int64_t y = oy * p.sh - p.ph + ky * p.dh;
      if (y < 0 || y >= H) continue;
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const int64_t xx = ox * p.sw - p.pw + kx * p.dw;
        if (xx < 0 || xx >= W) continue;
        const T v = in[y * W + xx];
        if (v > best || isnan(v) || arg < 0) {
          best = v;
          arg = y * W + xx;
        }
      }
    }
    out[i] = best;
    idx[i] = arg;
  }
}

template <class T>
__global__ void max_pool_backward_kernel(const T* g, const int64_t* idx, int64_t total, int64_t HW, int64_t OHW, T* gx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = idx[i];
    if (k >= 0) atomicAdd(gx + (i / OHW) * HW + k, g[i]);
  }
}

template <class T, bool Backward>
__global__ void bilinear_kernel(const T* src, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW, bool ac, T* dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    int64_t y0, y1, x0, x1;
    double wy, wx;
    pool::bilinear_taps(oy, H, OH, ac, y0, y1, wy);
    pool::bilinear_taps(ox, W, OW, ac, x0, x1, wx);
    if constexpr (!Backward) {
      const T* in = src + pl * H * W;
      dst[i] = T((1 - wy) * ((1 - wx) * double(in[y0 * W + x0]) + wx * double(in[y0 * W + x1])) +
                 wy * ((1 - wx) * double(in[y1 * W + x0]) + wx * double(in[y1 * W + x1])));
    } else {
      T* gx = dst + pl * H * W;
      const double v = double(src[i]);
      atomicAdd(gx + y0 * W + x0, T((1 - wy) * (1 - wx) * v));
      atomicAdd(gx + y0 * W + x1, T((1 - wy) * wx * v));
      atomicAdd(gx + y1 * W + x0, T(wy * (1 - wx) * v));
      atomicAdd(gx + y1 * W + x1, T(wy * wx * v));
    }
  }
}

template <class T, bool Backward>
__global__ void adaptive_avg_kernel(const T* src, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW, T* dst) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    const int64_t y0 = pool::adaptive_start(oy, OH, H), y1 = pool::adaptive_end(oy, OH, H);
    const int64_t x0 = pool::adaptive_start(ox, OW, W), x1 = pool::adaptive_end(ox, OW, W);
    const double count = double((y1 - y0) * (x1 - x0));
    if constexpr (!Backward) {
      double s = 0;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t xx = x0; xx < x1; ++xx) s += double(src[(pl * H + y) * W + xx]);
      dst[i] = T(s / count);
    } else {
      const T v = T(double(src[i]) / count);
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t xx = x0; xx < x1; ++xx) atomicAdd(dst + (pl * H + y) * W + xx, v);
    }
  }
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor& indices) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const int64_t total = out.numel();
  MRC_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    max_pool_forward_kernel<scalar_t><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), p, out.data<scalar_t>(),
        indices.data<int64_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(const Tensor& g, const Tensor& indices, const Tensor& gx) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  const int64_t total = g.numel();
  MRC_DISPATCH_FLOATING(g.dtype(), "max_pool2d_backward", [&] {
    max_pool_backward_kernel<scalar_t><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        g.data<scalar_t>(), indices.data<int64_t>(), total, gx.size(2) * gx.size(3), g.size(2) * g.size(3),
        gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void bilinear_forward(const Tensor& x, bool ac, const Tensor& out) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const int64_t total = out.numel();
  MRC_DISPATCH_FLOATING(x.dtype(), "interpolate_bilinear", [&] {
    bilinear_kernel<scalar_t, false><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), ac, out.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void bilinear_backward(const Tensor& g, bool ac, const Tensor& gx) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  const int64_t total = g.numel();
  MRC_DISPATCH_FLOATING(g.dtype(), "interpolate_bilinear_backward", [&] {
    bilinear_kernel<scalar_t, true><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        g.data<scalar_t>(), total, gx.size(2), gx.size(3), g.size(2), g.size(3), ac, gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_forward(const Tensor& x, const Tensor& out) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const int64_t total = out.numel();
  MRC_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    adaptive_avg_kernel<scalar_t, false><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), out.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_backward(const Tensor& g, const Tensor& gx) {
  const int dev = g.device().index;
  DeviceGuard guard(dev);
  const int64_t total = g.numel();
  MRC_DISPATCH_FLOATING(g.dtype(), "adaptive_avg_pool2d_backward", [&] {
    adaptive_avg_kernel<scalar_t, true><<<grid_for(total, dev), kBlock, 0, current_stream(dev)>>>(
        g.data<scalar_t>(), total, gx.size(2), gx.size(3), g.size(2), g.size(3), gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace mrc::cuda
