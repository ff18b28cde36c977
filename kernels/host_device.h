// Macros and tiny helpers for code that g++ and nvcc both compile (the detection ops' shared math).
#pragma once

#if defined(__CUDACC__)
#define MRC_HOST_DEVICE __host__ __device__
#else
#define MRC_HOST_DEVICE
#endif

// cudaStream_t is `CUstream_st*`; naming the struct here keeps CUDA headers out of host-only code.
struct CUstream_st;

namespace mrc::kernels {

using GpuStream = CUstream_st*;

// Products whose rounding must be the same on both backends (NMS and IoU thresholds decide keep sets).
// nvcc would otherwise fuse `s - a * b` into one FMA, which rounds once instead of twice; the host
// files that use these turn contraction off with `#pragma GCC optimize("fp-contract=off")`.
MRC_HOST_DEVICE inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MRC_HOST_DEVICE inline double mul_rn(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

}  // namespace mrc::kernels
