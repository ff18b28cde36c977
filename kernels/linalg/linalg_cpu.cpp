// Batched matmul on the CPU through the one GEMM engine (kernels/gemm: Eigen builds picked by cpu_isa()).
// Work units are (batch item, part); a lone large product is cut into two halves along its larger output
// dim. The cut depends only on the shapes, so every element is computed the same way whatever the thread
// count.
#include "kernels/gemm/gemm.h"
#include "kernels/linalg/bmm_args.h"
#include "kernels/linalg/linalg.h"
#include "tensor/parallel.h"

namespace mrc::cpu {

namespace {

// c[m, n] (+)= a[m, k] @ b[k, n]; c row-major with leading dimension ldc. A column-major operand is the
// transpose of a row-major one with the same leading dimension.
template <class T>
void gemm_layout(const T* a, const MatLayout& la, const T* b, const MatLayout& lb, T* c, int64_t ldc, int64_t m, int64_t n,
          int64_t k, bool accumulate) {
  cpu::gemm<T>(!la.row_major, !lb.row_major, m, n, k, a, la.ld, b, lb.ld, c, ldc, accumulate);
}

}  // namespace

void bmm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const BmmArgs args = bmm_args(a, b, "bmm (cpu)");
  if (args.empty()) return;
  const int64_t batch = args.batch, m = args.m, k = args.k, n = args.n;
  const MatLayout la = args.la, lb = args.lb;
  const int64_t sa = a.stride(0), sb = b.stride(0);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const bool split_cols = n >= m;
  const int64_t extent = split_cols ? n : m;
  const int64_t parts = (batch == 1 && flops >= double(1 << 22) && extent >= 64) ? 2 : 1;
  const int64_t half = ((extent + 1) / 2 + 15) / 16 * 16;  // whole SIMD panels in the first half
  // element step between consecutive rows of a / columns of b
  const int64_t a_row = la.row_major ? la.ld : 1, b_col = lb.row_major ? 1 : lb.ld;
  const int64_t grain = std::max<int64_t>(1, int64_t(double(1 << 20) / std::max(flops, 1.0)));
  MRC_DISPATCH_FLOATING(a.dtype(), "matmul", [&] {
    using T = scalar_t;
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* cp = out.data<T>();
    parallel_for(batch * parts, grain, [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t i = u / parts, p = u % parts;
        const T* ai = ap + i * sa;
        const T* bi = bp + i * sb;
        T* ci = cp + i * m * n;
        if (parts == 1) {
          gemm_layout<T>(ai, la, bi, lb, ci, n, m, n, k, accumulate);
        } else {
          const int64_t lo = p * half, len = std::min(extent, lo + half) - lo;
          if (split_cols)
            gemm_layout<T>(ai, la, bi + lo * b_col, lb, ci + lo, n, m, len, k, accumulate);
          else
            gemm_layout<T>(ai + lo * a_row, la, bi, lb, ci + lo * n, n, len, n, k, accumulate);
        }
      }
    });
  });
}

}  // namespace mrc::cpu
