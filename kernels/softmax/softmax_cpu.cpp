// CPU softmax: a task owns whole softmax groups (one outer index and a block of inner positions) and
// walks the softmax dim three times (max, sum of exponentials, normalize) with the inner block as the
// unit-stride loop, so both dim = -1 and channel softmax over NCHW read memory in order.
#include <cmath>
#include <vector>

#include "kernels/around_dim.h"
#include "kernels/softmax/softmax.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  const AroundDim ad = around_dim(x, dim);
  const int64_t outer = ad.outer, n = ad.size, inner = ad.inner;
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  MRC_DISPATCH_FLOATING(x.dtype(), "softmax", [&] {
    using T = scalar_t;
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    const int64_t work = n * std::min(inner, kBlock);
    parallel_for(outer * blocks, std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1)), [&](int64_t b, int64_t e) {
      std::vector<T> mx(size_t(std::min(inner, kBlock)));
      std::vector<double> acc(mx.size());
      for (int64_t u = b; u < e; ++u) {
        const int64_t o = u / blocks, i0 = (u % blocks) * kBlock, len = std::min(inner, i0 + kBlock) - i0;
        const T* xs = xp + o * n * inner + i0;
        T* os = op + o * n * inner + i0;
        for (int64_t i = 0; i < len; ++i) {
          mx[size_t(i)] = -INFINITY;
          acc[size_t(i)] = 0;
        }
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < len; ++i) mx[size_t(i)] = std::max(mx[size_t(i)], xs[j * inner + i]);
        for (int64_t i = 0; i < len; ++i)  // a row of -inf stays finite in the shift (gives NaN like torch)
          if (std::isinf(mx[size_t(i)]) && mx[size_t(i)] < 0) mx[size_t(i)] = 0;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < len; ++i) {
            const T ex = std::exp(xs[j * inner + i] - mx[size_t(i)]);
            acc[size_t(i)] += double(ex);
            if (!log) os[j * inner + i] = ex;
          }
        if (log) {
          for (int64_t i = 0; i < len; ++i) acc[size_t(i)] = double(mx[size_t(i)]) + std::log(acc[size_t(i)]);
          for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < len; ++i) os[j * inner + i] = T(double(xs[j * inner + i]) - acc[size_t(i)]);
        } else {
          for (int64_t i = 0; i < len; ++i) acc[size_t(i)] = 1.0 / acc[size_t(i)];
          for (int64_t j = 0; j < n; ++j)
            for (int64_t i = 0; i < len; ++i) os[j * inner + i] = T(double(os[j * inner + i]) * acc[size_t(i)]);
        }
      }
    });
  });
}

}  // namespace mrc::cpu
