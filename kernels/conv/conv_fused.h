// A convolution with its epilogue fused: relu?(conv2d(x, w, b) + residual) in one pass. The CPU kernel adds
// the residual and applies the ReLU to each output block while it is in cache; devices without a fused
// kernel compose conv2d, add and relu. layers/fold_bn.h builds conv -> frozen BN -> (+ identity) -> ReLU on it.
#pragma once
#include "kernels/conv/conv.h"

namespace mrc {

// residual: undefined or of the output's shape. Gradients as the composition's (to x, w, b and residual).
// The sum rounds differently from the composition's (bias and residual enter before the products).
Tensor conv2d_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual, bool relu,
                    Int2 stride = 1, Int2 padding = 0, Int2 dilation = 1, int64_t groups = 1);

namespace cpu {
// conv2d_forward (conv.h), then + residual (undefined or out's shape) and ReLU when asked, per output block.
void conv2d_forward_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                          const Tensor& out, const Tensor& residual, bool relu);
}  // namespace cpu

}  // namespace mrc
