// CPU indexing kernels. Work is split so that each output element is written by one task, and the
// contributions to an element are added in index order: results are the same for any thread count.
#include <array>
#include <cstring>

#include "kernels/around_dim.h"
#include "kernels/index/index.h"
#include "tensor/parallel.h"
#include "tensor/strided_loop.h"

namespace mrc::cpu {

namespace {

// out[o, index[j], i] (+)= src[o, j, i] over units of (outer, fixed inner block): one unit owns its outputs.
template <bool Accumulate>
void index_put(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const AroundDim od = around_dim(out, dim);
  const int64_t k = index.numel();
  const int64_t* ip = index.data<int64_t>();
  constexpr int64_t kBlock = 1024;
  const int64_t blocks = (od.inner + kBlock - 1) / kBlock;
  MRC_DISPATCH_ALL(out.dtype(), "index_add", [&] {
    using T = scalar_t;
    T* op = out.data<T>();
    const T* sp = src.data<T>();
    parallel_for(od.outer * blocks, std::max<int64_t>(1, 65536 / std::max<int64_t>(k * std::min(od.inner, kBlock), 1)),
                 [&](int64_t b, int64_t e) {
                   for (int64_t u = b; u < e; ++u) {
                     const int64_t o = u / blocks, i0 = (u % blocks) * kBlock, i1 = std::min(od.inner, i0 + kBlock);
                     for (int64_t j = 0; j < k; ++j) {
                       T* dst = op + (o * od.size + ip[j]) * od.inner;
                       const T* s = sp + (o * k + j) * od.inner;
                       for (int64_t i = i0; i < i1; ++i) {
                         if constexpr (Accumulate)
                           dst[i] += s[i];
                         else
                           dst[i] = s[i];
                       }
                     }
                   }
                 });
  });
}

}  // namespace

void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const AroundDim xd = around_dim(x, dim);
  const int64_t k = index.numel();
  const int64_t* ip = index.data<int64_t>();
  const size_t row_bytes = size_t(xd.inner) * x.itemsize();
  const char* xp = static_cast<const char*>(x.raw_data());
  char* op = static_cast<char*>(out.raw_data());
  parallel_for(xd.outer * k, std::max<int64_t>(1, 32768 / std::max<int64_t>(xd.inner, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / k, j = r % k;
      std::memcpy(op + size_t(r) * row_bytes, xp + size_t(o * xd.size + ip[j]) * row_bytes, row_bytes);
    }
  });
}

void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  index_put<true>(out, dim, index, src);
}

void index_copy(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  index_put<false>(out, dim, index, src);
}

// Both walk the index's shape without `dim` in parallel and run along `dim` inside: distinct outer
// positions never share an output element, so scatter_add needs no atomics and keeps its order.
void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const int64_t len = index.shape()[size_t(dim)];
  const int64_t xs = x.strides()[size_t(dim)], is = index.strides()[size_t(dim)], os = out.strides()[size_t(dim)];
  const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
  using Off = std::array<int64_t, 3>;
  MRC_DISPATCH_ALL(x.dtype(), "gather", [&] {
    using T = scalar_t;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* op = static_cast<T*>(out.raw_data());
    for_each_strided<3>(drop_dim(index.shape(), dim),
                        {drop_dim(out.strides(), dim), drop_dim(x.strides(), dim), drop_dim(index.strides(), dim)},
                        [&](const Off& off, int64_t n, const Off& st) {
                          for (int64_t i = 0; i < n; ++i) {
                            T* o = op + off[0] + i * st[0];
                            const T* xb = xp + off[1] + i * st[1];
                            const int64_t* ib = ip + off[2] + i * st[2];
                            for (int64_t j = 0; j < len; ++j) o[j * os] = xb[ib[j * is] * xs];
                          }
                        });
  });
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t len = index.shape()[size_t(dim)];
  const int64_t os = out.strides()[size_t(dim)], is = index.strides()[size_t(dim)], ss = src.strides()[size_t(dim)];
  const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
  using Off = std::array<int64_t, 3>;
  MRC_DISPATCH_ALL(out.dtype(), "scatter_add", [&] {
    using T = scalar_t;
    T* op = static_cast<T*>(out.raw_data());
    const T* sp = static_cast<const T*>(src.raw_data());
    for_each_strided<3>(drop_dim(index.shape(), dim),
                        {drop_dim(out.strides(), dim), drop_dim(src.strides(), dim), drop_dim(index.strides(), dim)},
                        [&](const Off& off, int64_t n, const Off& st) {
                          for (int64_t i = 0; i < n; ++i) {
                            T* o = op + off[0] + i * st[0];
                            const T* s = sp + off[1] + i * st[1];
                            const int64_t* ib = ip + off[2] + i * st[2];
                            for (int64_t j = 0; j < len; ++j) o[ib[j * is] * os] += s[j * ss];
                          }
                        });
  });
}

Tensor nonzero(const Tensor& x) {
  const int64_t n = x.numel(), nd = x.dim();
  constexpr int64_t kChunk = 1 << 16;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<int64_t> counts(size_t(chunks) + 1, 0);
  Tensor out;
  MRC_DISPATCH_ALL(x.dtype(), "nonzero", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        int64_t cnt = 0;
        for (int64_t l = c * kChunk, end = std::min(n, l + kChunk); l < end; ++l) cnt += xp[l] != T(0);
        counts[size_t(c) + 1] = cnt;
      }
    });
    for (int64_t c = 0; c < chunks; ++c) counts[size_t(c) + 1] += counts[size_t(c)];
    out = Tensor::empty({counts[size_t(chunks)], nd}, DType::Int64);
    int64_t* op = out.data<int64_t>();
    const Shape& shape = x.shape();
    parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        int64_t* row = op + counts[size_t(c)] * nd;
        for (int64_t l = c * kChunk, end = std::min(n, l + kChunk); l < end; ++l) {
          if (!(xp[l] != T(0))) continue;
          for (int64_t d = nd - 1, rem = l; d >= 0; --d) {
            row[d] = rem % shape[size_t(d)];
            rem /= shape[size_t(d)];
          }
          row += nd;
        }
      }
    });
  });
  return out;
}

}  // namespace mrc::cpu
