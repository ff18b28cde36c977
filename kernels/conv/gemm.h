// Row-major GEMM for the CPU kernels: C[m x n] (=|+=) op(A) * op(B), op = identity or transpose,
// lda/ldb/ldc the row strides of the matrices as stored. Single-threaded (callers split the work).
// Eigen's packed GEMM does the work, built twice: for AVX2 + FMA (the library's baseline) and for
// AVX-512, picked once at run time from the CPU's features.
#pragma once
#include <cstdint>

namespace mrc::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc, bool accumulate);

// Which kernel gemm() runs: "avx512" or "avx2". Tests and benchmarks may force the baseline.
const char* gemm_isa();
void gemm_force_baseline(bool on);

}  // namespace mrc::cpu
