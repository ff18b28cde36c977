// Row-major GEMM for the CPU kernels: C[m x n] (=|+=) op(A) * op(B), op = identity or transpose,
// lda/ldb/ldc the row strides of the matrices as stored. Single-threaded (callers split the work).
// One engine behind conv, linear and batched matmul: Eigen's packed GEMM built three times (plain
// x86-64, AVX2 + FMA, AVX-512), the build picked per call from cpu_isa() (MRC_CPU_ISA can force it).
#pragma once
#include <cstdint>

namespace mrc::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
          int64_t ldb, T* c, int64_t ldc, bool accumulate);

// The name of the path gemm() runs now: "generic", "avx2" or "avx512".
const char* gemm_isa();

// Floating-point operations (2 m n k per call) gemm() has run since the process started, over all
// threads: benches read it before and after a run for the achieved GFLOP/s of a whole model.
double gemm_flops();

}  // namespace mrc::cpu
