// CUDA indexing kernels, deterministic like the CPU ones (no float atomics anywhere):
//   index_select, gather — one thread per output element;
//   index_add / index_copy — the index is stably sorted (CUB radix sort of (index, position)); the
//     thread at the start of each run of equal targets applies the run's slices in position order, so
//     additions happen in the CPU's order and give the same bits;
//   scatter_add — one thread per index column (all coordinates but dim), walking dim in order: distinct
//     columns never share an output element;
//   nonzero — CUB select over the linear positions, then coordinates.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include "kernels/around_dim.h"
#include "kernels/index/index.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

// Raw bytes of one element: index_select moves data without looking at it.
template <size_t Bytes>
struct Raw;
template <> struct Raw<1> { using type = uint8_t; };
template <> struct Raw<2> { using type = uint16_t; };
template <> struct Raw<4> { using type = uint32_t; };
template <> struct Raw<8> { using type = uint64_t; };

template <class F>
void with_raw_type(size_t itemsize, F&& f) {
  switch (itemsize) {
    case 1: return f(Raw<1>::type{});
    case 2: return f(Raw<2>::type{});
    case 4: return f(Raw<4>::type{});
    case 8: return f(Raw<8>::type{});
  }
  throw std::invalid_argument("CUDA index: unsupported element size " + std::to_string(itemsize));
}

template <class T>
__global__ void index_select_kernel(const T* x, const int64_t* index, T* out, int64_t total, int64_t k, int64_t size,
                                    int64_t inner) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, r = e / inner, j = r % k, o = r / k;
    out[e] = x[(o * size + index[j]) * inner + i];
  }
}

// keys: the index sorted stably; pos: the original position of each key. Thread (o, p, i) acts when p
// starts a run of equal keys.
template <class T, bool Accumulate>
__global__ void index_put_kernel(T* out, const T* src, const int64_t* keys, const int64_t* pos, int64_t total,
                                 int64_t k, int64_t size, int64_t inner) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, r = e / inner, p = r % k, o = r / k;
    const int64_t target = keys[p];
    if (p > 0 && keys[p - 1] == target) continue;
    T* dst = out + (o * size + target) * inner + i;
    T acc = Accumulate ? *dst : T(0);
    for (int64_t q = p; q < k && keys[q] == target; ++q) {
      const T v = src[(o * k + pos[q]) * inner + i];
      if constexpr (Accumulate) acc += v;
      else acc = v;
    }
    *dst = acc;
  }
}

template <class T, class Index>
__global__ void gather_kernel(T* out, const T* x, const int64_t* index, int64_t total, OffsetCalc<3, Index> calc,
                              int64_t x_dim_stride) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    Index off[3];
    calc.get(std::make_unsigned_t<Index>(e), off);
    out[off[0]] = x[int64_t(off[1]) + index[off[2]] * x_dim_stride];
  }
}

template <class T, class Index>
__global__ void scatter_add_kernel(T* out, const T* src, const int64_t* index, int64_t columns,
                                   OffsetCalc<3, Index> calc, int64_t len, int64_t os, int64_t ss, int64_t is) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < columns; c += int64_t(gridDim.x) * blockDim.x) {
    Index off[3];
    calc.get(std::make_unsigned_t<Index>(c), off);
    T* o = out + off[0];
    const T* s = src + off[1];
    const int64_t* ib = index + off[2];
    for (int64_t j = 0; j < len; ++j) o[ib[j * is] * os] += s[j * ss];
  }
}

template <class T>
struct NonZero {
  const T* x;
  __device__ bool operator()(int64_t i) const { return x[i] != T(0); }
};

struct Dims {
  int64_t size[kMaxDims * 2];
};

__global__ void coords_kernel(const int64_t* linear, int64_t count, int nd, Dims dims, int64_t* out) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < count; r += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = linear[r];
    for (int d = nd - 1; d >= 0; --d) {
      out[r * nd + d] = rem % dims.size[d];
      rem /= dims.size[d];
    }
  }
}

__global__ void iota_kernel(int64_t* p, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) p[i] = i;
}

template <bool Accumulate>
void index_put(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const AroundDim od = around_dim(out, dim);
  const int64_t k = index.numel();
  const int device = out.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  // stable sort of (target, position); only the bits that can be set in a target are sorted
  Tensor keys = Tensor::empty({k}, DType::Int64, out.device());
  Tensor pos_in = Tensor::empty({k}, DType::Int64, out.device());
  Tensor pos = Tensor::empty({k}, DType::Int64, out.device());
  iota_kernel<<<grid_for(k, device), kBlock, 0, stream>>>(static_cast<int64_t*>(pos_in.raw_data()), k);
  MRC_CUDA_CHECK_LAUNCH();
  int end_bit = 1;
  while (end_bit < 63 && (int64_t(1) << end_bit) < od.size) ++end_bit;
  const auto* kin = static_cast<const int64_t*>(index.raw_data());
  auto* kout = static_cast<int64_t*>(keys.raw_data());
  const auto* vin = static_cast<const int64_t*>(pos_in.raw_data());
  auto* vout = static_cast<int64_t*>(pos.raw_data());
  size_t temp_bytes = 0;
  MRC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, kin, kout, vin, vout, k, 0, end_bit, stream));
  Tensor temp = Tensor::empty({int64_t(std::max<size_t>(temp_bytes, 1))}, DType::UInt8, out.device());
  MRC_CUDA_CHECK(
      cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, kin, kout, vin, vout, k, 0, end_bit, stream));
  const int64_t total = od.outer * k * od.inner;
  MRC_DISPATCH_ALL(out.dtype(), Accumulate ? "index_add" : "index_copy", [&] {
    using T = scalar_t;
    index_put_kernel<T, Accumulate><<<grid_for(total, device), kBlock, 0, stream>>>(
        static_cast<T*>(out.raw_data()), static_cast<const T*>(src.raw_data()), kout, vout, total, k, od.size, od.inner);
  });
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace

void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const AroundDim xd = around_dim(x, dim);
  const int64_t k = index.numel(), total = out.numel();
  if (total == 0) return;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  with_raw_type(x.itemsize(), [&](auto tag) {
    using T = decltype(tag);
    index_select_kernel<T><<<grid_for(total, device), kBlock, 0, stream>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const int64_t*>(index.raw_data()),
        static_cast<T*>(out.raw_data()), total, k, xd.size, xd.inner);
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0 || out.numel() == 0) return;
  index_put<true>(out, dim, index, src);
}

void index_copy(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0 || out.numel() == 0) return;
  index_put<false>(out, dim, index, src);
}

void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const int64_t total = out.numel();
  if (total == 0) return;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  Shape xs = x.strides();
  const int64_t x_dim_stride = xs[size_t(dim)];
  xs[size_t(dim)] = 0;  // the index supplies the position along dim
  const Geometry<3> g = make_geometry<3>(index.shape(), {out.strides(), xs, index.strides()});
  const auto* ip = static_cast<const int64_t*>(index.raw_data());
  // the geometry bounds every offset but the index's part, which is added in 64 bits
  const bool small = fits_int32(g);
  MRC_DISPATCH_ALL(x.dtype(), "gather", [&] {
    using T = scalar_t;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* op = static_cast<T*>(out.raw_data());
    if (small)
      gather_kernel<T, int32_t><<<grid_for(total, device), kBlock, 0, stream>>>(op, xp, ip, total,
                                                                               OffsetCalc<3, int32_t>(g), x_dim_stride);
    else
      gather_kernel<T, int64_t><<<grid_for(total, device), kBlock, 0, stream>>>(op, xp, ip, total,
                                                                               OffsetCalc<3, int64_t>(g), x_dim_stride);
  });
  MRC_CUDA_CHECK_LAUNCH();
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  const int64_t len = index.shape()[size_t(dim)];
  const int64_t os = out.strides()[size_t(dim)], is = index.strides()[size_t(dim)], ss = src.strides()[size_t(dim)];
  const Shape cols = drop_dim(index.shape(), dim);
  const int64_t columns = shape_numel(cols);
  const int device = out.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  const Geometry<3> g = make_geometry<3>(
      cols, {drop_dim(out.strides(), dim), drop_dim(src.strides(), dim), drop_dim(index.strides(), dim)});
  const auto* ip = static_cast<const int64_t*>(index.raw_data());
  MRC_DISPATCH_ALL(out.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    T* op = static_cast<T*>(out.raw_data());
    const T* sp = static_cast<const T*>(src.raw_data());
    // column offsets stay within each operand's own span, which fits_int32 bounds
    if (fits_int32(g))
      scatter_add_kernel<T, int32_t><<<grid_for(columns, device), kBlock, 0, stream>>>(
          op, sp, ip, columns, OffsetCalc<3, int32_t>(g), len, os, ss, is);
    else
      scatter_add_kernel<T, int64_t><<<grid_for(columns, device), kBlock, 0, stream>>>(
          op, sp, ip, columns, OffsetCalc<3, int64_t>(g), len, os, ss, is);
  });
  MRC_CUDA_CHECK_LAUNCH();
}

Tensor nonzero(const Tensor& x) {
  const int64_t n = x.numel();
  const int nd = int(x.dim());
  if (nd > 2 * kMaxDims) throw std::invalid_argument("CUDA nonzero: at most 20 dims are supported");
  if (n == 0) return Tensor::empty({0, int64_t(nd)}, DType::Int64, x.device());
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  Tensor linear = Tensor::empty({n}, DType::Int64, x.device());
  Tensor count = Tensor::empty({1}, DType::Int64, x.device());
  auto* lp = static_cast<int64_t*>(linear.raw_data());
  auto* cp = static_cast<int64_t*>(count.raw_data());
  const thrust::counting_iterator<int64_t> first(0);
  MRC_DISPATCH_ALL(x.dtype(), "nonzero", [&] {
    using T = scalar_t;
    const NonZero<T> pred{static_cast<const T*>(x.raw_data())};
    size_t temp_bytes = 0;
    MRC_CUDA_CHECK(cub::DeviceSelect::If(nullptr, temp_bytes, first, lp, cp, n, pred, stream));
    Tensor temp = Tensor::empty({int64_t(std::max<size_t>(temp_bytes, 1))}, DType::UInt8, x.device());
    MRC_CUDA_CHECK(cub::DeviceSelect::If(temp.raw_data(), temp_bytes, first, lp, cp, n, pred, stream));
  });
  const int64_t found = count.item<int64_t>();  // waits for the select
  Tensor out = Tensor::empty({found, int64_t(nd)}, DType::Int64, x.device());
  if (found > 0 && nd > 0) {
    Dims dims{};
    for (int d = 0; d < nd; ++d) dims.size[d] = x.shape()[size_t(d)];
    coords_kernel<<<grid_for(found, device), kBlock, 0, stream>>>(lp, found, nd, dims,
                                                                  static_cast<int64_t*>(out.raw_data()));
    MRC_CUDA_CHECK_LAUNCH();
  }
  return out;
}

}  // namespace mrc::cuda
