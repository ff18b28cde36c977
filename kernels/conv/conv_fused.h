// A convolution with its epilogue fused: relu?(conv2d(x, w, b) + residual) in one pass. The CPU kernel adds
// the residual and applies the ReLU to each output block while it is in cache. On CUDA the composition
// (conv2d, add, relu) runs unless set_fused_conv_epilogue_cuda(true): then a float32 conv with a ReLU takes
// cuDNN's fused cudnnConvolutionBiasActivationForward (bias, residual and ReLU applied by the conv kernel),
// off by default until a GPU run has verified it (tests/cuda/test_fast_paths_cuda.cpp).
// layers/fold_bn.h builds conv -> frozen BN -> (+ identity) -> ReLU on it.
#pragma once
#include <atomic>

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

inline std::atomic<bool>& fused_conv_epilogue_cuda_flag() {
  static std::atomic<bool> on{false};
  return on;
}
inline void set_fused_conv_epilogue_cuda(bool on) { fused_conv_epilogue_cuda_flag() = on; }
inline bool fused_conv_epilogue_cuda() { return fused_conv_epilogue_cuda_flag(); }

#ifdef MRC_WITH_CUDA
namespace cuda {
// relu(conv(x, w) + b + residual) through cuDNN's fused call (residual undefined: none). Returns false,
// having written nothing, for what it does not take (no ReLU, not float32, bf16 autocast, or cuDNN
// reporting the configuration unsupported): the caller composes then.
bool conv2d_forward_fused(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p, const Tensor& out,
                          const Tensor& residual, bool relu);
}  // namespace cuda
#endif

}  // namespace mrc
