// CUDA batched GEMM on cuBLAS (cublasGemmStridedBatchedEx). cuBLAS is column-major; a row-major output
// C = A @ B is computed as C^T = B^T @ A^T, so B is passed first. Each operand is read in place: a
// row-major matrix is, to cuBLAS, its own transpose (op N), a column-major one needs op T. Batch
// strides come from the tensors (0 for a broadcast operand). float32 runs in FP32 unless TF32 is
// allowed (tensor/cuda/context.h), or with bf16 autocast on bfloat16 copies of the operands (float32
// accumulation, float32 output); float64 in FP64.
#include <algorithm>
#include <climits>
#include <string>

#include "kernels/linalg/bmm_args.h"
#include "kernels/linalg/linalg.h"
#include "tensor/autograd.h"
#include "tensor/copy.h"
#include "tensor/cuda/autocast.h"
#include "tensor/cuda/context.h"

namespace mrc::cuda {

namespace {

int checked_int(int64_t v, const char* what) {
  if (v > INT_MAX) throw std::invalid_argument(std::string("CUDA matmul: ") + what + " " + std::to_string(v) +
                                               " exceeds cuBLAS's int range");
  return int(v);
}

void bmm_impl(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate);

// A contiguous bfloat16 copy of a float32 operand (bf16 autocast).
Tensor to_bf16(const Tensor& t) {
  Tensor r = Tensor::empty(t.shape(), DType::BFloat16, t.device());
  ::mrc::cuda::copy_strided(t, r);
  return r;
}

}  // namespace

void bmm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  if (a.dtype() == DType::Float32 && autocast_bf16() && !bmm_args(a, b, "CUDA matmul").empty()) {
    NoGradGuard ng;
    return bmm_impl(to_bf16(a), to_bf16(b), out, accumulate);
  }
  bmm_impl(a, b, out, accumulate);
}

namespace {

void bmm_impl(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const BmmArgs args = bmm_args(a, b, "CUDA matmul");
  if (args.empty()) return;
  const int64_t B = args.batch, M = args.m, K = args.k, N = args.n;
  const MatLayout la = args.la, lb = args.lb;
  if (!out.is_contiguous()) throw std::invalid_argument("CUDA matmul: the output must be contiguous");
  const int device = out.device().index;
  DeviceGuard guard(device);
  if (K == 0) {  // an empty sum: zeros (or out unchanged), as on the CPU, without asking cuBLAS for k = 0
    if (!accumulate)
      MRC_CUDA_CHECK(cudaMemsetAsync(out.raw_data(), 0, size_t(B * M * N) * out.itemsize(), current_stream(device)));
    return;
  }
  const cublasHandle_t handle = cublas_handle(device);
  const cublasOperation_t op_b = lb.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t op_a = la.row_major ? CUBLAS_OP_N : CUBLAS_OP_T;
  const int m = checked_int(N, "N"), n = checked_int(M, "M"), k = checked_int(K, "K");
  const int ldb = checked_int(lb.ld, "leading dimension"), lda = checked_int(la.ld, "leading dimension");
  const int ldc = m;
  // Batches beyond cuBLAS's int count run in pieces.
  constexpr int64_t kMaxBatch = 1 << 30;
  for (int64_t b0 = 0; b0 < B; b0 += kMaxBatch) {
    const int count = int(std::min(kMaxBatch, B - b0));
    const size_t es = a.itemsize();
    const char* ap = static_cast<const char*>(a.raw_data()) + size_t(b0 * a.stride(0)) * es;
    const char* bp = static_cast<const char*>(b.raw_data()) + size_t(b0 * b.stride(0)) * es;
    char* cp = static_cast<char*>(out.raw_data()) + size_t(b0 * M * N) * out.itemsize();
    if (a.dtype() == DType::BFloat16 && out.dtype() == DType::Float32) {  // bf16 autocast
      const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
      MRC_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, bp, CUDA_R_16BF, ldb,
                                                  b.stride(0), ap, CUDA_R_16BF, lda, a.stride(0), &beta, cp,
                                                  CUDA_R_32F, ldc, M * N, count, CUBLAS_COMPUTE_32F,
                                                  CUBLAS_GEMM_DEFAULT));
    } else if (a.dtype() == DType::Float32) {
      const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
      const cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
      MRC_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, bp, CUDA_R_32F, ldb,
                                                  b.stride(0), ap, CUDA_R_32F, lda, a.stride(0), &beta, cp,
                                                  CUDA_R_32F, ldc, M * N, count, compute, CUBLAS_GEMM_DEFAULT));
    } else if (a.dtype() == DType::Float64) {
      const double alpha = 1.0, beta = accumulate ? 1.0 : 0.0;
      MRC_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle, op_b, op_a, m, n, k, &alpha, bp, CUDA_R_64F, ldb,
                                                  b.stride(0), ap, CUDA_R_64F, lda, a.stride(0), &beta, cp,
                                                  CUDA_R_64F, ldc, M * N, count, CUBLAS_COMPUTE_64F,
                                                  CUBLAS_GEMM_DEFAULT));
    } else {
      throw_unsupported_dtype("matmul", a.dtype());
    }
  }
}

}  // namespace

}  // namespace mrc::cuda
