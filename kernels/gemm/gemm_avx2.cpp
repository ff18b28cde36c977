// gemm() for the library's baseline instruction set (x86-64-v3: AVX2 + FMA).
#include <Eigen/Core>

#define MRC_GEMM_NS gemm_avx2
#include "kernels/gemm/gemm_eigen.h"
