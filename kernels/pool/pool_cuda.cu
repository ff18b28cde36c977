// CUDA pooling and resampling: forward passes one thread per output element, with the CPU's loops and
// NaN rule (pool_math.h holds the shared index math). Backward passes never scatter with atomics: bilinear
// and adaptive-average backward gather (one thread per input element walks, in the CPU's order, the
// outputs whose taps or windows include it); max-pool backward walks each plane's outputs in order with
// one warp. Results are deterministic; max-pool and adaptive-average gradients are the CPU's bit for bit.
#include <cmath>

#include "kernels/pool/pool.h"
#include "kernels/pool/pool_math.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

#define MRC_GRID_STRIDE(i, total) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (total); i += int64_t(gridDim.x) * blockDim.x)

template <class T>
__global__ void max_pool_forward_kernel(const T* x, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        Pool2dParams p, T* out, int64_t* idx) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    const T* in = x + pl * H * W;
    T best = T(-INFINITY);
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
          if (isnan(v)) break;  // as the CPU: the first NaN of a window row wins that row
        }
      }
    }
    out[i] = best;
    idx[i] = arg;
  }
}

// One warp per (n, c) plane walks the plane's outputs in order, 32 at a time. Lanes whose outputs chose
// the same input element are grouped (match_any); the group's lowest lane adds their gradients to it in
// lane order. That is the CPU's order of additions (outputs ascending), so the result is the CPU's bit
// for bit, without atomics. (The backend entry gets no window geometry, so a per-input gather that
// would need it is not possible here.)
template <class T>
__global__ void max_pool_backward_kernel(const T* g, const int64_t* idx, int64_t planes, int64_t HW, int64_t OHW,
                                         T* gx) {
  constexpr int kWarps = kBlock / 32;
  __shared__ T vals[kWarps][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t warps = int64_t(gridDim.x) * kWarps;
  for (int64_t pl = int64_t(blockIdx.x) * kWarps + warp; pl < planes; pl += warps) {
    const T* gp = g + pl * OHW;
    const int64_t* ip = idx + pl * OHW;
    T* xp = gx + pl * HW;
    for (int64_t base = 0; base < OHW; base += 32) {
      const int64_t k = base + lane;
      const bool valid = k < OHW;
      const long long target = valid ? ip[k] : -1;
      vals[warp][lane] = valid ? gp[k] : T(0);
      // invalid lanes and outputs without an element (-1) get distinct keys and do nothing
      const long long key = target >= 0 ? target : -1 - lane;
      const unsigned group = __match_any_sync(0xffffffffu, key);
      __syncwarp();
      if (target >= 0 && lane == __ffs(group) - 1) {
        T acc = xp[target];
        for (unsigned m = group; m; m &= m - 1) acc += vals[warp][__ffs(m) - 1];
        xp[target] = acc;
      }
      __syncwarp();  // the next round may add to the same element and reuses vals
    }
  }
}

// First output index in [0, n) for which pred holds, pred monotonic (false...true); n if none.
template <class F>
__device__ __forceinline__ int64_t first_true(int64_t n, F pred) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (pred(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

__device__ __forceinline__ int64_t tap0(int64_t o, int64_t in, int64_t out, bool ac) {
  int64_t i0, i1;
  double w;
  pool::bilinear_taps(o, in, out, ac, i0, i1, w);
  return i0;
}

// Outputs along one axis that tap input position y: those whose first tap is y - 1 or y (the first
// tap never decreases with the output index).
__device__ __forceinline__ void tapping(int64_t y, int64_t in, int64_t out, bool ac, int64_t& lo, int64_t& hi) {
  lo = first_true(out, [&](int64_t o) { return tap0(o, in, out, ac) >= y - 1; });
  hi = first_true(out, [&](int64_t o) { return tap0(o, in, out, ac) > y; }) - 1;
}

template <class T>
__global__ void bilinear_forward_kernel(const T* src, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        bool ac, T* dst) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    int64_t y0, y1, x0, x1;
    double wy, wx;
    pool::bilinear_taps(oy, H, OH, ac, y0, y1, wy);
    pool::bilinear_taps(ox, W, OW, ac, x0, x1, wx);
    const T* in = src + pl * H * W;
    dst[i] = T((1 - wy) * ((1 - wx) * double(in[y0 * W + x0]) + wx * double(in[y0 * W + x1])) +
               wy * ((1 - wx) * double(in[y1 * W + x0]) + wx * double(in[y1 * W + x1])));
  }
}

// Each input element adds, in the CPU's order (outputs row-major, then the four taps in turn), the
// contributions of the outputs that tap it.
template <class T>
__global__ void bilinear_backward_kernel(const T* g, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                         bool ac, T* gx) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t x = i % W, y = (i / W) % H, pl = i / (W * H);
    int64_t oy0, oy1, ox0, ox1;
    tapping(y, H, OH, ac, oy0, oy1);
    tapping(x, W, OW, ac, ox0, ox1);
    T acc = gx[i];
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      int64_t y0, y1;
      double wy;
      pool::bilinear_taps(oy, H, OH, ac, y0, y1, wy);
      if (y0 != y && y1 != y) continue;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        int64_t x0, x1;
        double wx;
        pool::bilinear_taps(ox, W, OW, ac, x0, x1, wx);
        const double v = double(g[(pl * OH + oy) * OW + ox]);
        if (y0 == y && x0 == x) acc += T((1 - wy) * (1 - wx) * v);
        if (y0 == y && x1 == x) acc += T((1 - wy) * wx * v);
        if (y1 == y && x0 == x) acc += T(wy * (1 - wx) * v);
        if (y1 == y && x1 == x) acc += T(wy * wx * v);
      }
    }
    gx[i] = acc;
  }
}

template <class T>
__global__ void adaptive_avg_forward_kernel(const T* src, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                            T* dst) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    const int64_t y0 = pool::adaptive_start(oy, OH, H), y1 = pool::adaptive_end(oy, OH, H);
    const int64_t x0 = pool::adaptive_start(ox, OW, W), x1 = pool::adaptive_end(ox, OW, W);
    double s = 0;
    for (int64_t y = y0; y < y1; ++y)
      for (int64_t xx = x0; xx < x1; ++xx) s += double(src[(pl * H + y) * W + xx]);
    dst[i] = T(s / double((y1 - y0) * (x1 - x0)));
  }
}

template <class T>
__global__ void adaptive_avg_backward_kernel(const T* g, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                             T* gx) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t x = i % W, y = (i / W) % H, pl = i / (W * H);
    // windows [start, end) move monotonically: the ones holding y are those with end > y and start <= y
    const int64_t oy0 = first_true(OH, [&](int64_t o) { return pool::adaptive_end(o, OH, H) > y; });
    const int64_t oy1 = first_true(OH, [&](int64_t o) { return pool::adaptive_start(o, OH, H) > y; }) - 1;
    const int64_t ox0 = first_true(OW, [&](int64_t o) { return pool::adaptive_end(o, OW, W) > x; });
    const int64_t ox1 = first_true(OW, [&](int64_t o) { return pool::adaptive_start(o, OW, W) > x; }) - 1;
    T acc = gx[i];
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const int64_t h = pool::adaptive_end(oy, OH, H) - pool::adaptive_start(oy, OH, H);
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t w = pool::adaptive_end(ox, OW, W) - pool::adaptive_start(ox, OW, W);
        acc += T(double(g[(pl * OH + oy) * OW + ox]) / double(h * w));
      }
    }
    gx[i] = acc;
  }
}

#undef MRC_GRID_STRIDE

struct Launch {
  int device;
  DeviceGuard guard;
  cudaStream_t stream;
  explicit Launch(const Tensor& t) : device(t.device().index), guard(device), stream(current_stream(device)) {}
};

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, const Tensor& out, const Tensor& indices) {
  const Launch l(x);
  const int64_t total = out.numel();
  if (total == 0) return;
  MRC_DISPATCH_FLOATING(x.dtype(), "max_pool2d", [&] {
    max_pool_forward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), p, out.data<scalar_t>(),
        indices.data<int64_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(const Tensor& g, const Tensor& indices, const Tensor& gx) {
  const Launch l(g);
  const int64_t planes = gx.size(0) * gx.size(1);
  if (planes == 0 || g.numel() == 0) return;
  constexpr int kWarps = kBlock / 32;
  const int blocks = int(std::min<int64_t>((planes + kWarps - 1) / kWarps, int64_t(sm_count(l.device)) * 16));
  MRC_DISPATCH_FLOATING(g.dtype(), "max_pool2d_backward", [&] {
    max_pool_backward_kernel<scalar_t><<<blocks, kBlock, 0, l.stream>>>(
        g.data<scalar_t>(), indices.data<int64_t>(), planes, gx.size(2) * gx.size(3), g.size(2) * g.size(3),
        gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void bilinear_forward(const Tensor& x, bool ac, const Tensor& out) {
  const Launch l(x);
  const int64_t total = out.numel();
  if (total == 0) return;
  MRC_DISPATCH_FLOATING(x.dtype(), "interpolate_bilinear", [&] {
    bilinear_forward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), ac, out.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void bilinear_backward(const Tensor& g, bool ac, const Tensor& gx) {
  const Launch l(g);
  const int64_t total = gx.numel();
  if (total == 0 || g.numel() == 0) return;
  MRC_DISPATCH_FLOATING(g.dtype(), "interpolate_bilinear_backward", [&] {
    bilinear_backward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        g.data<scalar_t>(), total, gx.size(2), gx.size(3), g.size(2), g.size(3), ac, gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_forward(const Tensor& x, const Tensor& out) {
  const Launch l(x);
  const int64_t total = out.numel();
  if (total == 0) return;
  MRC_DISPATCH_FLOATING(x.dtype(), "adaptive_avg_pool2d", [&] {
    adaptive_avg_forward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), out.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void adaptive_avg_backward(const Tensor& g, const Tensor& gx) {
  const Launch l(g);
  const int64_t total = gx.numel();
  if (total == 0 || g.numel() == 0) return;
  MRC_DISPATCH_FLOATING(g.dtype(), "adaptive_avg_pool2d_backward", [&] {
    adaptive_avg_backward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        g.data<scalar_t>(), total, gx.size(2), gx.size(3), g.size(2), g.size(3), gx.data<scalar_t>());
  });
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace mrc::cuda
