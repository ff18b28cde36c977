// CUDA softmax / log_softmax over [outer, n, inner] (dim in the middle), with the CPU's arithmetic: the
// max is subtracted in T, exp in T, the sum of exponentials in double; a row that is all -inf gives NaN
// and a NaN anywhere in a row makes the whole row NaN, as on the CPU and in torch.
//   inner == 1, n <= 1024: one warp per row;   inner == 1, n > 1024: one block per row;
//   inner > 1: one thread per (outer, inner) column walking dim (reads coalesced across the inner dim).
#include <cmath>

#include "kernels/around_dim.h"
#include "kernels/softmax/softmax.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

template <class T>
__device__ __forceinline__ T max_of(T a, T b) {
  return a < b ? b : a;
}

template <class T>
__device__ __forceinline__ T safe_shift(T mx) {
  return (isinf(mx) && mx < T(0)) ? T(0) : mx;
}

template <class T>
__device__ __forceinline__ void write_row(const T* x, T* out, int64_t n, int64_t step, int64_t first, int64_t stride,
                                          T mx, double acc, bool log) {
  if (log) {
    const double lse = double(mx) + ::log(acc);
    for (int64_t j = first; j < n; j += stride) out[j * step] = T(double(x[j * step]) - lse);
  } else {
    const double inv = 1.0 / acc;
    for (int64_t j = first; j < n; j += stride) out[j * step] = T(double(T(::exp(x[j * step] - mx))) * inv);
  }
}

template <class T>
__global__ void softmax_cols_kernel(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, bool log) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < outer * inner;
       c += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = c / inner, i = c % inner;
    const T* xs = x + o * n * inner + i;
    T* os = out + o * n * inner + i;
    T mx = T(-INFINITY);
    for (int64_t j = 0; j < n; ++j) mx = max_of(mx, xs[j * inner]);
    mx = safe_shift(mx);
    double acc = 0;
    for (int64_t j = 0; j < n; ++j) acc += double(T(::exp(xs[j * inner] - mx)));
    write_row(xs, os, n, inner, 0, 1, mx, acc, log);
  }
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v = max_of(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

template <class T>
__global__ void softmax_warp_rows_kernel(const T* x, T* out, int64_t rows, int64_t n, bool log) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps) {
    const T* xs = x + r * n;
    T mx = T(-INFINITY);
    for (int64_t j = lane; j < n; j += 32) mx = max_of(mx, xs[j]);
    mx = safe_shift(warp_max(mx));
    double acc = 0;
    for (int64_t j = lane; j < n; j += 32) acc += double(T(::exp(xs[j] - mx)));
    acc = warp_sum(acc);
    write_row(xs, out + r * n, n, 1, lane, 32, mx, acc, log);
  }
}

template <class T>
__global__ void softmax_block_rows_kernel(const T* x, T* out, int64_t n, bool log) {
  __shared__ T smax[32];
  __shared__ double ssum[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  const T* xs = x + int64_t(blockIdx.x) * n;
  T mx = T(-INFINITY);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = max_of(mx, xs[j]);
  mx = warp_max(mx);
  if (lane == 0) smax[warp] = mx;
  __syncthreads();
  mx = lane < nwarps ? smax[lane] : T(-INFINITY);
  mx = safe_shift(warp_max(mx));  // every warp computes the same block max
  double acc = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += double(T(::exp(xs[j] - mx)));
  acc = warp_sum(acc);
  if (lane == 0) ssum[warp] = acc;
  __syncthreads();
  acc = warp_sum(lane < nwarps ? ssum[lane] : 0.0);
  write_row(xs, out + int64_t(blockIdx.x) * n, n, 1, threadIdx.x, blockDim.x, mx, acc, log);
}

}  // namespace

void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  const AroundDim ad = around_dim(x, dim);
  const int64_t outer = ad.outer, n = ad.size, inner = ad.inner;
  if (outer * n * inner == 0) return;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  MRC_DISPATCH_FLOATING(x.dtype(), "softmax", [&] {
    using T = scalar_t;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* op = static_cast<T*>(out.raw_data());
    if (inner > 1) {
      softmax_cols_kernel<T><<<grid_for(outer * inner, device), kBlock, 0, stream>>>(xp, op, outer, n, inner, log);
    } else if (n <= 1024) {
      constexpr int kWarps = kBlock / 32;
      const int64_t blocks = std::min<int64_t>((outer + kWarps - 1) / kWarps, int64_t(sm_count(device)) * 16);
      softmax_warp_rows_kernel<T><<<int(blocks), kBlock, 0, stream>>>(xp, op, outer, n, log);
    } else {
      if (outer > int64_t(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("CUDA softmax: too many rows (" + std::to_string(outer) + ")");
      softmax_block_rows_kernel<T><<<unsigned(outer), kBlock, 0, stream>>>(xp, op, n, log);
    }
  });
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace mrc::cuda
