// gemm() for plain x86-64 (SSE2, no FMA): CMakeLists.txt compiles this file with -march=x86-64. Eigen is
// included under another namespace name so its SSE2 template instances never merge with the AVX2 ones
// that other files instantiate.
#include <cstdint>

#define Eigen mrc_eigen_generic
#include <Eigen/Core>

#define MRC_GEMM_NS gemm_generic
#include "kernels/gemm/gemm_eigen.h"
