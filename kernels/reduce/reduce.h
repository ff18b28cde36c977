// Reductions over dims or the whole tensor: sum, mean, max/min (values and indices), argmax/argmin,
// and the L2 norm. Float sums accumulate in double on the CPU; results do not depend on thread count.
#pragma once
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mrc {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x);  // all elements; gradient shared evenly among ties
Tensor min(const Tensor& x);
// (values, int64 indices) along dim; the gradient flows to the returned index (first occurrence).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor norm(const Tensor& x);  // sqrt(sum(x^2)) over all elements
Tensor any(const Tensor& x);   // uint8 scalar
int64_t count_nonzero(const Tensor& x);

enum class ReduceOp : uint8_t { Sum, Max, Min };

namespace cpu {
// x: contiguous [rows, n]; values: [rows] (x's dtype); indices: [rows] int64 or undefined (Sum).
void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices);
}
#ifdef MRC_WITH_CUDA
namespace cuda {
void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& values, const Tensor& indices);
}
#endif

}  // namespace mrc
