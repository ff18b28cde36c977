// Sorting along a dim: sort, argsort, topk. Values and int64 indices; gradients flow through the values
// (scattered back to the picked positions).
//
// Order: NaN counts as larger than every number (as torch). Ties are always broken by index — equal
// values keep their original order, ascending or descending — so `stable` is accepted for torch's
// signature but every sort here is stable, and topk picks and orders equal values by lower index first.
#pragma once
#include <cstdint>
#include <utility>

#include "tensor/tensor.h"

namespace mrc {

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = true);
// The k largest (or smallest) along dim, ordered best first. `sorted` is accepted for torch's signature;
// the result is always sorted.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

// ---- backends: x contiguous [rows, n]; values (x's dtype) and indices (int64) contiguous
// [rows, n] for sort and [rows, k] for topk, written in the order described above.
namespace cpu {
void sort(const Tensor& x, bool descending, const Tensor& values, const Tensor& indices);
void topk(const Tensor& x, int64_t k, bool largest, const Tensor& values, const Tensor& indices);
}  // namespace cpu
#ifdef MRC_WITH_CUDA
namespace cuda {
void sort(const Tensor& x, bool descending, const Tensor& values, const Tensor& indices);
void topk(const Tensor& x, int64_t k, bool largest, const Tensor& values, const Tensor& indices);
}  // namespace cuda
#endif

}  // namespace mrc
