// The body of gemm() on Eigen maps, included by gemm_generic.cpp, gemm_avx2.cpp and gemm_avx512.cpp, each
// compiling it for its instruction set inside its own namespace (MRC_GEMM_NS).
#include <cstdint>

namespace mrc::cpu::MRC_GEMM_NS {

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
          int64_t ldc, bool accumulate) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, Eigen::Unaligned, Eigen::OuterStride<>>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<Mat, Eigen::Unaligned, Stride> C(c, m, n, Stride(ldc));
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  auto run = [&](const auto& A, const auto& B) {
    if (accumulate)
      C.noalias() += A * B;
    else
      C.noalias() = A * B;
  };
  if (!ta && !tb) run(CMap(a, m, k, Stride(lda)), CMap(b, k, n, Stride(ldb)));
  if (!ta && tb) run(CMap(a, m, k, Stride(lda)), CMap(b, n, k, Stride(ldb)).transpose());
  if (ta && !tb) run(CMap(a, k, m, Stride(lda)).transpose(), CMap(b, k, n, Stride(ldb)));
  if (ta && tb) run(CMap(a, k, m, Stride(lda)).transpose(), CMap(b, n, k, Stride(ldb)).transpose());
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                          int64_t, bool);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
                           double*, int64_t, bool);

}  // namespace mrc::cpu::MRC_GEMM_NS
