// gemm(): the run-time choice among the generic, AVX2 and AVX-512 builds of gemm_eigen.h.
#include <atomic>

#include "kernels/cpu_isa.h"
#include "kernels/gemm/gemm.h"

namespace mrc::cpu {

#define MRC_DECLARE_GEMM(NS)                                                                                        \
  namespace NS {                                                                                                   \
  template <class T>                                                                                               \
  void gemm(bool, bool, int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, T*, int64_t, bool);        \
  }
MRC_DECLARE_GEMM(gemm_generic)
MRC_DECLARE_GEMM(gemm_avx2)
MRC_DECLARE_GEMM(gemm_avx512)
#undef MRC_DECLARE_GEMM

const char* gemm_isa() { return cpu_isa_name(cpu_isa()); }

namespace {
std::atomic<uint64_t> g_flops{0};
}  // namespace

double gemm_flops() { return double(g_flops.load(std::memory_order_relaxed)); }

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
          int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  g_flops.fetch_add(uint64_t(2 * m * n * k), std::memory_order_relaxed);
  switch (cpu_isa()) {
    case CpuIsa::Avx512: gemm_avx512::gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate); break;
    case CpuIsa::Avx2: gemm_avx2::gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate); break;
    case CpuIsa::Generic: gemm_generic::gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate); break;
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                          int64_t, bool);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
                           double*, int64_t, bool);

}  // namespace mrc::cpu
