// CUDA row reductions (sum, max/min with the index of the first extreme; NaN wins as in torch).
// Deterministic: every partial result is combined in a fixed tree that does not depend on timing, and
// float sums accumulate in double like the CPU. Three shapes of work:
//   short rows  — one warp per row, many rows per block;
//   long rows   — one block per row;
//   few huge rows — each row split into segments reduced by separate blocks, then the segments of a row
//                 combined by one warp (two launches, no atomics).
#include <type_traits>

#include "kernels/reduce/reduce.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

template <class T, ReduceOp OP>
struct Acc {
  using V = std::conditional_t<OP == ReduceOp::Sum, std::conditional_t<std::is_floating_point_v<T>, double, int64_t>, T>;
  V v;
  int64_t i;  // index of the extreme; -1 while empty (max/min)
};

template <class T, ReduceOp OP>
__device__ __forceinline__ Acc<T, OP> identity() {
  return {typename Acc<T, OP>::V(0), -1};
}

template <class T, ReduceOp OP>
__device__ __forceinline__ void combine(Acc<T, OP>& a, const Acc<T, OP>& b) {
  if constexpr (OP == ReduceOp::Sum) {
    a.v += b.v;
  } else {
    if (b.i < 0) return;
    if (a.i < 0) {
      a = b;
      return;
    }
    const bool nan_a = a.v != a.v, nan_b = b.v != b.v;
    bool take;
    if (nan_a || nan_b) take = nan_b && (!nan_a || b.i < a.i);
    else if (OP == ReduceOp::Max ? b.v > a.v : b.v < a.v) take = true;
    else take = b.v == a.v && b.i < a.i;
    if (take) a = b;
  }
}

template <class V>
__device__ __forceinline__ V shfl_down(V v, int off) {
  if constexpr (sizeof(V) < 4) return V(__shfl_down_sync(0xffffffffu, int(v), off));
  else return __shfl_down_sync(0xffffffffu, v, off);
}

template <class T, ReduceOp OP>
__device__ __forceinline__ Acc<T, OP> warp_reduce(Acc<T, OP> a) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    Acc<T, OP> o;
    o.v = shfl_down(a.v, off);
    o.i = __shfl_down_sync(0xffffffffu, a.i, off);
    combine<T, OP>(a, o);
  }
  return a;
}

// Block-wide reduction; the result is valid in thread 0. blockDim.x must be a multiple of 32.
template <class T, ReduceOp OP>
__device__ Acc<T, OP> block_reduce(Acc<T, OP> a) {
  __shared__ typename Acc<T, OP>::V sv[32];
  __shared__ int64_t si[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  a = warp_reduce<T, OP>(a);
  if (lane == 0) {
    sv[warp] = a.v;
    si[warp] = a.i;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < nwarps ? Acc<T, OP>{sv[lane], si[lane]} : identity<T, OP>();
    a = warp_reduce<T, OP>(a);
  }
  return a;
}

// Accumulates x[begin, end) with a stride, in increasing index order per thread.
template <class T, ReduceOp OP>
__device__ __forceinline__ Acc<T, OP> accumulate(const T* row, int64_t begin, int64_t end, int64_t step) {
  Acc<T, OP> a = identity<T, OP>();
  for (int64_t k = begin; k < end; k += step) combine<T, OP>(a, Acc<T, OP>{typename Acc<T, OP>::V(row[k]), k});
  return a;
}

template <class T, ReduceOp OP>
__device__ __forceinline__ void store(const Acc<T, OP>& a, int64_t r, T* values, int64_t* indices) {
  values[r] = T(a.v);
  if (indices) indices[r] = a.i;
}

template <class T, ReduceOp OP>
__global__ void warp_per_row_kernel(const T* x, int64_t rows, int64_t n, T* values, int64_t* indices) {
  const int lane = threadIdx.x % 32;
  const int64_t warps_per_grid = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32; r < rows; r += warps_per_grid) {
    Acc<T, OP> a = warp_reduce<T, OP>(accumulate<T, OP>(x + r * n, lane, n, 32));
    if (lane == 0) store<T, OP>(a, r, values, indices);
  }
}

template <class T, ReduceOp OP>
__global__ void block_per_row_kernel(const T* x, int64_t n, T* values, int64_t* indices) {
  const int64_t r = blockIdx.x;
  Acc<T, OP> a = block_reduce<T, OP>(accumulate<T, OP>(x + r * n, threadIdx.x, n, blockDim.x));
  if (threadIdx.x == 0) store<T, OP>(a, r, values, indices);
}

// Grid (segments, rows): block (s, r) reduces row r's segment s into partial[r * segments + s].
template <class T, ReduceOp OP>
__global__ void segment_kernel(const T* x, int64_t n, int64_t seg_len, Acc<T, OP>* partial) {
  const int64_t r = blockIdx.y, s = blockIdx.x;
  const int64_t begin = s * seg_len, end = begin + seg_len < n ? begin + seg_len : n;
  Acc<T, OP> a = block_reduce<T, OP>(accumulate<T, OP>(x + r * n, begin + threadIdx.x, end, blockDim.x));
  if (threadIdx.x == 0) partial[r * gridDim.x + s] = a;
}

template <class T, ReduceOp OP>
__global__ void combine_segments_kernel(const Acc<T, OP>* partial, int64_t rows, int segments, T* values,
                                        int64_t* indices) {
  const int lane = threadIdx.x % 32;
  const int64_t r = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  Acc<T, OP> a = identity<T, OP>();
  for (int s = lane; s < segments; s += 32) combine<T, OP>(a, partial[r * segments + s]);
  a = warp_reduce<T, OP>(a);
  if (lane == 0) store<T, OP>(a, r, values, indices);
}

template <class T, ReduceOp OP>
void run(const Tensor& x, const Tensor& values, const Tensor& indices) {
  const int64_t rows = x.size(0), n = x.size(1);
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.defined() ? static_cast<int64_t*>(indices.raw_data()) : nullptr;
  const int sms = sm_count(device);
  constexpr int kThreads = 256, kWarps = kThreads / 32;
  constexpr int64_t kSegment = 16384;  // elements per block when a row is split

  if (n <= 1024) {
    const int64_t blocks = std::min<int64_t>((rows + kWarps - 1) / kWarps, int64_t(sms) * 16);
    warp_per_row_kernel<T, OP><<<int(blocks), kThreads, 0, stream>>>(xp, rows, n, vp, ip);
  } else if (rows >= 2 * sms || n < 4 * kSegment) {
    if (rows > int64_t(std::numeric_limits<int32_t>::max()))
      throw std::invalid_argument("CUDA reduce: too many rows (" + std::to_string(rows) + ")");
    block_per_row_kernel<T, OP><<<unsigned(rows), kThreads, 0, stream>>>(xp, n, vp, ip);
  } else {
    // rows < 2 * sms here, so the grid's y extent (rows) is far under its 65535 limit.
    const int64_t want = std::max<int64_t>(1, (int64_t(4) * sms + rows - 1) / rows);
    const int segments = int(std::min<int64_t>({want, (n + kSegment - 1) / kSegment, 1024}));
    const int64_t seg_len = (n + segments - 1) / segments;
    Tensor work = Tensor::empty({int64_t(sizeof(Acc<T, OP>)) * rows * segments}, DType::UInt8, x.device());
    auto* partial = static_cast<Acc<T, OP>*>(work.raw_data());
    segment_kernel<T, OP><<<dim3(unsigned(segments), unsigned(rows)), kThreads, 0, stream>>>(xp, n, seg_len, partial);
    MRC_CUDA_CHECK_LAUNCH();
    combine_segments_kernel<T, OP>
        <<<unsigned((rows + kWarps - 1) / kWarps), kThreads, 0, stream>>>(partial, rows, segments, vp, ip);
  }
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace

void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices) {
  if (x.numel() == 0 || x.size(0) == 0) return;
  if (!x.is_contiguous() || x.dim() != 2) throw std::invalid_argument("CUDA reduce_rows: needs a contiguous 2-d input");
  MRC_DISPATCH_ALL(x.dtype(), "reduce", [&] {
    switch (op) {
      case ReduceOp::Sum: return run<scalar_t, ReduceOp::Sum>(x, values, indices);
      case ReduceOp::Max: return run<scalar_t, ReduceOp::Max>(x, values, indices);
      case ReduceOp::Min: return run<scalar_t, ReduceOp::Min>(x, values, indices);
    }
  });
}

}  // namespace mrc::cuda
