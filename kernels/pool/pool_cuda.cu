// CUDA pooling and resampling: forward passes one thread per output element, with the CPU's loops and
// NaN rule (pool_math.h holds the shared index and rounding math, so bilinear results are the CPU's and
// torch's bit for bit). Backward passes never scatter with atomics: one thread per input element walks,
// in the CPU's order, the outputs whose windows or taps include it. Results are deterministic and equal
// the CPU's bit for bit.
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

// Window starts o * s - p + k * d along one axis that land on input position y, outputs ascending: the
// output of kernel tap k is (y + p - k * d) / s when that divides evenly, so walking k downwards walks
// the outputs upwards (each output at most once).
struct WindowHits {
  int64_t y, s, p, d, out;
  __device__ __forceinline__ int64_t output_of(int64_t k) const {
    const int64_t num = y + p - k * d;
    return num >= 0 && num % s == 0 && num / s < out ? num / s : -1;
  }
};

// One thread per input element gathers the gradients of the outputs whose maximum it was, in output order
// (rows, then columns): the additions of the CPU's scatter in the same order, so the sums are the CPU's
// bit for bit, with no atomics and no dependence on scheduling.
template <class T>
__global__ void max_pool_backward_kernel(const T* g, const int64_t* idx, int64_t total, int64_t H, int64_t W,
                                         int64_t OH, int64_t OW, Pool2dParams p, T* gx) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t x = i % W, y = (i / W) % H, pl = i / (W * H);
    const WindowHits rows{y, p.sh, p.ph, p.dh, OH}, cols{x, p.sw, p.pw, p.dw, OW};
    const int64_t self = y * W + x;
    const T* gp = g + pl * OH * OW;
    const int64_t* ip = idx + pl * OH * OW;
    T acc = gx[i];
    for (int64_t ky = p.kh - 1; ky >= 0; --ky) {
      const int64_t oy = rows.output_of(ky);
      if (oy < 0) continue;
      for (int64_t kx = p.kw - 1; kx >= 0; --kx) {
        const int64_t ox = cols.output_of(kx);
        if (ox >= 0 && ip[oy * OW + ox] == self) acc += gp[oy * OW + ox];
      }
    }
    gx[i] = acc;
  }
}

// Outputs along one axis that tap input position y: those whose first tap is y - 1 or y (the first
// tap never decreases with the output index).
template <class T>
__device__ __forceinline__ void tapping(int64_t y, int64_t in, int64_t out, bool ac, int64_t& lo, int64_t& hi) {
  lo = first_true(out, [&](int64_t o) { return pool::linear_tap<T>(o, in, out, ac).i0 >= y - 1; });
  hi = first_true(out, [&](int64_t o) { return pool::linear_tap<T>(o, in, out, ac).i0 > y; }) - 1;
}

template <class T>
__global__ void bilinear_forward_kernel(const T* src, int64_t total, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                        bool ac, bool channels_last, T* dst) {
  MRC_GRID_STRIDE(i, total) {
    const int64_t ox = i % OW, oy = (i / OW) % OH, pl = i / (OW * OH);
    const T* in = src + pl * H * W;
    dst[i] = pool::bilinear_value(pool::linear_tap<T>(oy, H, OH, ac), pool::linear_tap<T>(ox, W, OW, ac),
                                  [in, W](int64_t r, int64_t c) { return in[r * W + c]; }, channels_last);
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
    tapping<T>(y, H, OH, ac, oy0, oy1);
    tapping<T>(x, W, OW, ac, ox0, ox1);
    T acc = gx[i];
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const pool::LinearTap<T> ty = pool::linear_tap<T>(oy, H, OH, ac);
      if (ty.i0 != y && ty.i1 != y) continue;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const pool::LinearTap<T> tx = pool::linear_tap<T>(ox, W, OW, ac);
        const T v = g[(pl * OH + oy) * OW + ox];
        for (int k = 0; k < 4; ++k)
          if ((k < 2 ? ty.i0 : ty.i1) == y && (k % 2 ? tx.i1 : tx.i0) == x)
            acc += pool::bilinear_grad(ty, tx, k / 2, k % 2, v);
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

void max_pool2d_backward(const Tensor& g, const Tensor& indices, const Pool2dParams& p, const Tensor& gx) {
  const Launch l(g);
  const int64_t total = gx.numel();
  if (total == 0 || g.numel() == 0) return;
  MRC_DISPATCH_FLOATING(g.dtype(), "max_pool2d_backward", [&] {
    max_pool_backward_kernel<scalar_t><<<grid_for(total, l.device), kBlock, 0, l.stream>>>(
        g.data<scalar_t>(), indices.data<int64_t>(), total, gx.size(2), gx.size(3), g.size(2), g.size(3), p,
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
        x.data<scalar_t>(), total, x.size(2), x.size(3), out.size(2), out.size(3), ac,
        pool::torch_channels_last_kernel(x.size(1), x.size(2), x.size(3)), out.data<scalar_t>());
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
