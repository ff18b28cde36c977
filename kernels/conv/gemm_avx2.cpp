// gemm() for the library's baseline instruction set (x86-64-v3: AVX2 + FMA), and the run-time choice
// between it and the AVX-512 build (gemm_avx512.cpp).
#include <Eigen/Core>

#include "kernels/conv/gemm.h"

#define MRC_GEMM_NS gemm_avx2
#include "kernels/conv/gemm_eigen.h"
#undef MRC_GEMM_NS

namespace mrc::cpu {

namespace gemm_avx512 {
bool available();
template <class T>
void gemm(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, bool);
}  // namespace gemm_avx512

namespace {
bool g_force_baseline = false;
bool use_avx512() {
  static const bool ok = gemm_avx512::available();
  return ok && !g_force_baseline;
}
}  // namespace

const char* gemm_isa() { return use_avx512() ? "avx512" : "avx2"; }
void gemm_force_baseline(bool on) { g_force_baseline = on; }

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
          int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (use_avx512())
    gemm_avx512::gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  else
    gemm_avx2::gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                          int64_t, bool);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
                           double*, int64_t, bool);

}  // namespace mrc::cpu
