// CUDA sort / topk on rows: each value becomes an unsigned radix key whose order is the CPU's total order
// (NaN above everything, -0 equal to +0, descending by complementing the key), and CUB's stable radix
// sorts order (key, position) pairs, so ties keep the lower index first in both directions — the same
// unique result as the CPU. Values are then read back from x at the sorted positions (bits preserved).
// topk takes the first k of a full row sort.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include "kernels/sort/sort.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

template <class T> struct KeyOf;
template <> struct KeyOf<float> { using type = uint32_t; };
template <> struct KeyOf<double> { using type = uint64_t; };
template <> struct KeyOf<int32_t> { using type = uint32_t; };
template <> struct KeyOf<int64_t> { using type = uint64_t; };
template <> struct KeyOf<uint8_t> { using type = uint8_t; };

template <class T>
__device__ __forceinline__ typename KeyOf<T>::type radix_key(T v) {
  using K = typename KeyOf<T>::type;
  constexpr K sign = K(1) << (sizeof(K) * 8 - 1);
  if constexpr (std::is_floating_point_v<T>) {
    if (v != v) return K(~K(0));  // every NaN is the largest key
    if (v == T(0)) v = T(0);      // -0 sorts as +0
    K bits;
    memcpy(&bits, &v, sizeof bits);
    return (bits & sign) ? K(~bits) : K(bits | sign);
  } else if constexpr (std::is_signed_v<T>) {
    return K(K(v) ^ sign);
  } else {
    return K(v);
  }
}

template <class T>
__global__ void make_keys_kernel(const T* x, int64_t total, int64_t n, bool descending,
                                 typename KeyOf<T>::type* keys, int64_t* pos) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const auto key = radix_key<T>(x[e]);
    keys[e] = descending ? decltype(key)(~key) : key;
    pos[e] = e % n;
  }
}

__global__ void row_offsets_kernel(int64_t rows, int64_t n, int64_t* offsets) {
  for (int64_t r = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r <= rows; r += int64_t(gridDim.x) * blockDim.x)
    offsets[r] = r * n;
}

template <class T>
__global__ void take_kernel(const T* x, const int64_t* sorted_pos, int64_t rows, int64_t n, int64_t k, T* values,
                            int64_t* indices) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < rows * k; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / k, c = e % k;
    const int64_t p = sorted_pos[r * n + c];
    indices[e] = p;
    values[e] = x[r * n + p];
  }
}

template <class T>
void sort_rows(const Tensor& x, int64_t k, bool descending, const Tensor& values, const Tensor& indices) {
  using K = typename KeyOf<T>::type;
  const int64_t rows = x.size(0), n = x.size(1), total = rows * n;
  if (total == 0 || k == 0) return;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  const Device dev = x.device();
  Tensor keys_in = Tensor::empty({total * int64_t(sizeof(K))}, DType::UInt8, dev);
  Tensor keys_out = Tensor::empty({total * int64_t(sizeof(K))}, DType::UInt8, dev);
  Tensor pos_in = Tensor::empty({total}, DType::Int64, dev);
  Tensor pos_out = Tensor::empty({total}, DType::Int64, dev);
  auto* kin = static_cast<K*>(keys_in.raw_data());
  auto* kout = static_cast<K*>(keys_out.raw_data());
  auto* pin = static_cast<int64_t*>(pos_in.raw_data());
  auto* pout = static_cast<int64_t*>(pos_out.raw_data());
  const T* xp = static_cast<const T*>(x.raw_data());
  make_keys_kernel<T><<<grid_for(total, device), kBlock, 0, stream>>>(xp, total, n, descending, kin, pin);
  MRC_CUDA_CHECK_LAUNCH();
  size_t temp_bytes = 0;
  if (rows == 1) {
    MRC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, kin, kout, pin, pout, total, 0,
                                                   int(sizeof(K) * 8), stream));
    Tensor temp = Tensor::empty({int64_t(std::max<size_t>(temp_bytes, 1))}, DType::UInt8, dev);
    MRC_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, kin, kout, pin, pout, total, 0,
                                                   int(sizeof(K) * 8), stream));
  } else {
    Tensor offsets = Tensor::empty({rows + 1}, DType::Int64, dev);
    auto* op = static_cast<int64_t*>(offsets.raw_data());
    row_offsets_kernel<<<grid_for(rows + 1, device), kBlock, 0, stream>>>(rows, n, op);
    MRC_CUDA_CHECK_LAUNCH();
    MRC_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(nullptr, temp_bytes, kin, kout, pin, pout, total, rows, op,
                                                             op + 1, stream));
    Tensor temp = Tensor::empty({int64_t(std::max<size_t>(temp_bytes, 1))}, DType::UInt8, dev);
    MRC_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(temp.raw_data(), temp_bytes, kin, kout, pin, pout, total,
                                                             rows, op, op + 1, stream));
  }
  take_kernel<T><<<grid_for(rows * k, device), kBlock, 0, stream>>>(
      xp, pout, rows, n, k, static_cast<T*>(values.raw_data()), static_cast<int64_t*>(indices.raw_data()));
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace

void sort(const Tensor& x, bool descending, const Tensor& values, const Tensor& indices) {
  MRC_DISPATCH_ALL(x.dtype(), "sort", [&] { sort_rows<scalar_t>(x, x.size(1), descending, values, indices); });
}

void topk(const Tensor& x, int64_t k, bool largest, const Tensor& values, const Tensor& indices) {
  MRC_DISPATCH_ALL(x.dtype(), "topk", [&] { sort_rows<scalar_t>(x, k, largest, values, indices); });
}

}  // namespace mrc::cuda
