// The CUDA elementwise engine: launch_elementwise<Out, In...>(out, {inputs...}, f) computes
// out[i] = f(in0[i], in1[i], ...) over tensors that share out's shape, each with its own strides (0 for a
// broadcast dim). Dims contiguous for every operand are merged first (as the CPU's for_each_strided);
// then one of three grid-stride kernels runs:
//   vector  — one dim, every operand contiguous or a broadcast scalar, pointers 16-byte aligned:
//             each thread moves 16 bytes per operand per step;
//   linear  — one dim, any strides;
//   strided — up to kMaxDims dims, offsets from the linear index by div/mod (32-bit when it fits).
// The output may alias an input exactly (in-place ops): every element is read and written by one thread.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cuda/std/tuple>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "tensor/cuda/context.h"
#include "tensor/tensor.h"

namespace mrc::cuda {

constexpr int kMaxDims = 10;
constexpr int kBlock = 256;

// Grid size for a grid-stride loop over `work` items: enough blocks to fill the device, no more.
inline int grid_for(int64_t work, int device, int block = kBlock) {
  const int64_t want = (work + block - 1) / block;
  const int64_t cap = int64_t(sm_count(device)) * (2048 / block);
  return int(std::max<int64_t>(1, std::min(want, cap)));
}

// Operand geometry after merging: dims innermost first.
template <int N>
struct Geometry {
  int nd = 0;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

template <int N>
Geometry<N> make_geometry(const Shape& shape, const std::array<Shape, N>& strides) {
  Shape dims;
  std::array<Shape, N> st;
  int64_t numel = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    numel *= shape[d];
    if (shape[d] == 1) continue;
    dims.push_back(shape[d]);
    for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  for (int64_t i = int64_t(dims.size()) - 2; i >= 0; --i) {
    bool ok = true;
    for (int k = 0; k < N; ++k) ok = ok && st[k][i] == st[k][i + 1] * dims[i + 1];
    if (!ok) continue;
    dims[i] *= dims[i + 1];
    dims.erase(dims.begin() + i + 1);
    for (int k = 0; k < N; ++k) {
      st[k][i] = st[k][i + 1];
      st[k].erase(st[k].begin() + i + 1);
    }
  }
  if (dims.size() > size_t(kMaxDims))
    throw std::invalid_argument("CUDA elementwise: " + std::to_string(dims.size()) +
                                " dims that cannot be merged; at most " + std::to_string(kMaxDims) + " are supported");
  Geometry<N> g;
  g.numel = numel;
  g.nd = int(dims.size());
  for (int d = 0; d < g.nd; ++d) {
    const size_t src = dims.size() - 1 - size_t(d);
    g.sizes[d] = dims[src];
    for (int k = 0; k < N; ++k) g.strides[k][d] = st[k][src];
  }
  return g;
}

// True when every offset of every operand, and the element count, fit in int32.
template <int N>
bool fits_int32(const Geometry<N>& g) {
  constexpr int64_t lim = std::numeric_limits<int32_t>::max();
  if (g.numel > lim) return false;
  for (int k = 0; k < N; ++k) {
    int64_t span = 0;
    for (int d = 0; d < g.nd; ++d) span += (g.sizes[d] - 1) * (g.strides[k][d] < 0 ? -g.strides[k][d] : g.strides[k][d]);
    if (span > lim) return false;
  }
  return true;
}

template <int N, class Index>
struct OffsetCalc {
  using U = std::make_unsigned_t<Index>;
  int nd;
  U sizes[kMaxDims];
  Index strides[N][kMaxDims];

  explicit OffsetCalc(const Geometry<N>& g) : nd(g.nd) {
    for (int d = 0; d < kMaxDims; ++d) {
      sizes[d] = U(d < g.nd ? g.sizes[d] : 1);
      for (int k = 0; k < N; ++k) strides[k][d] = Index(d < g.nd ? g.strides[k][d] : 0);
    }
  }
  __device__ __forceinline__ void get(U linear, Index (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxDims; ++d) {
      if (d == nd) break;
      const U q = linear / sizes[d];
      const Index i = Index(linear - q * sizes[d]);
      linear = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }
};

template <int M>
struct InPtrs {
  const void* p[M > 0 ? M : 1];
};

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

namespace detail {

template <class Index, class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_strided(const OffsetCalc<sizeof...(In) + 1, Index>& calc, int64_t i, const F& f,
                                              Out* out, const InPtrs<sizeof...(In)>& in, std::index_sequence<K...>) {
  Index off[sizeof...(In) + 1];
  calc.get(std::make_unsigned_t<Index>(i), off);
  out[off[0]] = f(static_cast<const In*>(in.p[K])[off[K + 1]]...);
}

template <class Index, class F, class Out, class... In>
__global__ void strided_kernel(int64_t n, OffsetCalc<sizeof...(In) + 1, Index> calc, F f, Out* out,
                               InPtrs<sizeof...(In)> in) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    apply_strided<Index, F, Out, In...>(calc, i, f, out, in, std::index_sequence_for<In...>{});
}

template <class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_linear(int64_t i, const int64_t* st, const F& f, Out* out,
                                             const InPtrs<sizeof...(In)>& in, std::index_sequence<K...>) {
  out[i * st[0]] = f(static_cast<const In*>(in.p[K])[i * st[K + 1]]...);
}

template <int N>
struct Strides1D {
  int64_t s[N];
};

template <class F, class Out, class... In>
__global__ void linear_kernel(int64_t n, Strides1D<sizeof...(In) + 1> st, F f, Out* out, InPtrs<sizeof...(In)> in) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    apply_linear<F, Out, In...>(i, st.s, f, out, in, std::index_sequence_for<In...>{});
}

template <class T, int V>
__device__ __forceinline__ Vec<T, V> load_vec(const void* p, int64_t v, bool scalar) {
  if (scalar) {
    Vec<T, V> r;
    const T x = *static_cast<const T*>(p);
#pragma unroll
    for (int j = 0; j < V; ++j) r.v[j] = x;
    return r;
  }
  return static_cast<const Vec<T, V>*>(p)[v];
}

template <int V, class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_vec(int64_t v, unsigned scalar_mask, const F& f, Out* out,
                                          const InPtrs<sizeof...(In)>& in, std::index_sequence<K...>) {
  const ::cuda::std::tuple<Vec<In, V>...> vals{load_vec<In, V>(in.p[K], v, (scalar_mask >> K) & 1u)...};
  Vec<Out, V> o;
#pragma unroll
  for (int j = 0; j < V; ++j) o.v[j] = f(::cuda::std::get<K>(vals).v[j]...);
  reinterpret_cast<Vec<Out, V>*>(out)[v] = o;
}

template <class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_tail(int64_t i, unsigned scalar_mask, const F& f, Out* out,
                                           const InPtrs<sizeof...(In)>& in, std::index_sequence<K...>) {
  out[i] = f(static_cast<const In*>(in.p[K])[((scalar_mask >> K) & 1u) ? 0 : i]...);
}

template <int V, class F, class Out, class... In>
__global__ void vector_kernel(int64_t n, unsigned scalar_mask, F f, Out* out, InPtrs<sizeof...(In)> in) {
  const int64_t nvec = n / V;
  const int64_t start = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t v = start; v < nvec; v += step)
    apply_vec<V, F, Out, In...>(v, scalar_mask, f, out, in, std::index_sequence_for<In...>{});
  for (int64_t i = nvec * V + start; i < n; i += step)
    apply_tail<F, Out, In...>(i, scalar_mask, f, out, in, std::index_sequence_for<In...>{});
}

template <class... T>
constexpr size_t max_size() {
  size_t m = 1;
  ((m = sizeof(T) > m ? sizeof(T) : m), ...);
  return m;
}

}  // namespace detail

// out[i] = f(inputs[0][i], ...). Every input has out's shape (broadcast with expand first), dtypes
// matching In..., all on out's device. f is a __device__ callable (a struct or an extended lambda).
template <class Out, class... In, class F>
void launch_elementwise(const Tensor& out, const std::array<Tensor, sizeof...(In)>& inputs, F f) {
  constexpr int M = int(sizeof...(In));
  constexpr int N = M + 1;
  const int64_t n = out.numel();
  if (n == 0) return;
  const int device = out.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  std::array<Shape, N> strides;
  strides[0] = out.strides();
  InPtrs<M> in{};
  for (int k = 0; k < M; ++k) {
    if (inputs[size_t(k)].shape() != out.shape())
      throw std::invalid_argument("CUDA elementwise: operand shape " + shape_str(inputs[size_t(k)].shape()) +
                                  " differs from the output's " + shape_str(out.shape()));
    strides[size_t(k + 1)] = inputs[size_t(k)].strides();
    in.p[k] = inputs[size_t(k)].raw_data();
  }
  Out* op = static_cast<Out*>(out.raw_data());
  const Geometry<N> g = make_geometry<N>(out.shape(), strides);

  if (g.nd <= 1) {
    int64_t st[N];
    for (int k = 0; k < N; ++k) st[k] = g.nd == 0 ? 0 : g.strides[k][0];
    constexpr int V = int(16 / detail::max_size<Out, In...>());
    bool vec = V > 1 && st[0] == 1 && n >= V;
    unsigned scalar_mask = 0;
    vec = vec && reinterpret_cast<uintptr_t>(op) % (sizeof(Out) * V) == 0;
    if constexpr (M > 0) {
      constexpr size_t sizes[M] = {sizeof(In)...};
      for (int k = 0; k < M; ++k) {
        if (st[k + 1] == 0) scalar_mask |= 1u << k;
        else vec = vec && st[k + 1] == 1 && reinterpret_cast<uintptr_t>(in.p[k]) % (sizes[k] * V) == 0;
      }
    }
    if constexpr (V > 1) {
      if (vec) {
        detail::vector_kernel<V, F, Out, In...><<<grid_for(n / V, device), kBlock, 0, stream>>>(n, scalar_mask, f, op, in);
        MRC_CUDA_CHECK_LAUNCH();
        return;
      }
    }
    detail::Strides1D<N> s1;
    for (int k = 0; k < N; ++k) s1.s[k] = st[k];
    detail::linear_kernel<F, Out, In...><<<grid_for(n, device), kBlock, 0, stream>>>(n, s1, f, op, in);
    MRC_CUDA_CHECK_LAUNCH();
    return;
  }
  if (fits_int32(g)) {
    detail::strided_kernel<int32_t, F, Out, In...>
        <<<grid_for(n, device), kBlock, 0, stream>>>(n, OffsetCalc<N, int32_t>(g), f, op, in);
  } else {
    detail::strided_kernel<int64_t, F, Out, In...>
        <<<grid_for(n, device), kBlock, 0, stream>>>(n, OffsetCalc<N, int64_t>(g), f, op, in);
  }
  MRC_CUDA_CHECK_LAUNCH();
}

}  // namespace mrc::cuda
