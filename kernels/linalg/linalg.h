// Matrix products: matmul (torch.matmul semantics: 1-D, 2-D and batched with broadcast batch dims),
// addmm and linear (torch.nn.functional.linear), forward and backward. Float32 and float64.
//
// Operands are used in place whenever each matrix is row- or column-major with a leading dimension
// (transposes and slices cost no copy); anything else is made contiguous first. On the CPU the GEMMs
// run on Eigen; a batch runs its matrices in parallel and a single large product is split in two
// halves (fixed by the shapes alone), so results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mrc {

Tensor matmul(const Tensor& a, const Tensor& b);
// bias + a @ b for 2-D a [M, K], b [K, N], bias broadcastable to [M, N] (fused: one pass over the output).
Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b);
// x @ w^T + b: x [..., in], w [out, in], b [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// How a [rows, cols] matrix with element strides (rs, cs) lies in memory, if a GEMM can read it directly:
// row-major (cs = 1) or column-major (rs = 1) with a leading dimension >= the inner size.
struct MatLayout {
  bool ok = false;
  bool row_major = true;
  int64_t ld = 0;
};
inline MatLayout mat_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const int64_t r = rows > 0 ? rows : 1, c = cols > 0 ? cols : 1;
  if ((cs == 1 || c == 1) && (r == 1 || rs >= c)) return {true, true, r == 1 ? c : rs};
  if ((rs == 1 || r == 1) && (c == 1 || cs >= r)) return {true, false, c == 1 ? r : cs};
  return {};
}

// ---- backends: out[i] = a[i] @ b[i] (accumulate: out[i] += a[i] @ b[i]) for a [B, M, K], b [B, K, N]
// whose matrices satisfy mat_layout (any batch stride, 0 included), out contiguous [B, M, N].
namespace cpu {
void bmm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate);
}
#ifdef MRC_WITH_CUDA
namespace cuda {
void bmm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate);
}
#endif

}  // namespace mrc
