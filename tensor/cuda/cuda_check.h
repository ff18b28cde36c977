// Error checks for the CUDA runtime, cuBLAS and cuDNN: each failed call throws std::runtime_error naming
// the call site (file:line), the expression and the library's own error string.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>

namespace mrc::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t st, const char* expr, const char* file, int line);

}  // namespace mrc::cuda

#define MRC_CUDA_CHECK(expr)                                                       \
  do {                                                                             \
    const cudaError_t mrc_err_ = (expr);                                           \
    if (mrc_err_ != cudaSuccess) ::mrc::cuda::throw_cuda_error(mrc_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define MRC_CUBLAS_CHECK(expr)                                                     \
  do {                                                                             \
    const cublasStatus_t mrc_st_ = (expr);                                         \
    if (mrc_st_ != CUBLAS_STATUS_SUCCESS) ::mrc::cuda::throw_cublas_error(mrc_st_, #expr, __FILE__, __LINE__); \
  } while (0)

#define MRC_CUDNN_CHECK(expr)                                                      \
  do {                                                                             \
    const cudnnStatus_t mrc_st_ = (expr);                                          \
    if (mrc_st_ != CUDNN_STATUS_SUCCESS) ::mrc::cuda::throw_cudnn_error(mrc_st_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports a bad launch configuration at the launch site (not at the next sync).
#define MRC_CUDA_CHECK_LAUNCH() MRC_CUDA_CHECK(cudaGetLastError())
