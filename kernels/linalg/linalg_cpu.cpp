// CPU batched GEMM on Eigen: operands are mapped in place (row- or column-major with a leading
// dimension). Batches run in parallel; a single large product is split into two column halves, fixed by
// the shapes, so each output element is computed the same way whatever the thread count.
#include <Eigen/Core>

#include "kernels/linalg/linalg.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

template <class T, int Order>
using MapM = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Order>, 0, Eigen::OuterStride<>>;
template <class T>
using OutMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;

// Calls f with an Eigen map of the [rows, cols] matrix at p (layout l).
template <class T, class F>
void with_map(const T* p, int64_t rows, int64_t cols, const MatLayout& l, F&& f) {
  if (l.row_major)
    f(MapM<T, Eigen::RowMajor>(p, rows, cols, Eigen::OuterStride<>(l.ld)));
  else
    f(MapM<T, Eigen::ColMajor>(p, rows, cols, Eigen::OuterStride<>(l.ld)));
}

}  // namespace

void bmm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  const MatLayout la = mat_layout(M, K, a.stride(1), a.stride(2));
  const MatLayout lb = mat_layout(K, N, b.stride(1), b.stride(2));
  MRC_DISPATCH_FLOATING(a.dtype(), "matmul", [&] {
    using T = scalar_t;
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
    // one product of rows [0, M) x columns [c0, c1)
    auto product = [&](int64_t i, int64_t c0, int64_t c1) {
      OutMap<T> o(op + i * M * N + c0, M, c1 - c0, Eigen::OuterStride<>(N));
      with_map(ap + i * a.stride(0), M, K, la, [&](const auto& A) {
        const int64_t boff = lb.row_major ? c0 : c0 * lb.ld;
        with_map(bp + i * b.stride(0) + boff, K, c1 - c0, lb, [&](const auto& Bm) {
          if (accumulate)
            o.noalias() += A * Bm;
          else
            o.noalias() = A * Bm;
        });
      });
    };
    const double flops = 2.0 * double(M) * double(N) * double(K);
    if (B == 1 && num_threads() > 1 && flops > 4e6 && N >= 64) {
      const int64_t half = (N / 2 + 15) / 16 * 16;
      parallel_for(2, 1, [&](int64_t s, int64_t e) {
        for (int64_t part = s; part < e; ++part) product(0, part == 0 ? 0 : half, part == 0 ? half : N);
      });
    } else {
      parallel_for(B, B * flops > 1e6 ? 1 : B, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) product(i, 0, N);
      });
    }
  });
}

}  // namespace mrc::cpu
