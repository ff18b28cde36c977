// softmax and log_softmax along a dim, numerically stable (the row maximum is subtracted first).
#pragma once
#include "tensor/tensor.h"

namespace mrc {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace mrc
