// softmax and log_softmax along a dim (max-subtracted, so large logits do not overflow), forward and
// backward. Float32 and float64; float sums accumulate in double on the CPU.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mrc {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- backends: x and out contiguous, same shape, seen as [outer, size, inner] around dim.
namespace cpu {
void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out);
}
#ifdef MRC_WITH_CUDA
namespace cuda {
void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out);
}
#endif

}  // namespace mrc
