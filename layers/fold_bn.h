// Frozen batch norm (and batch norm in eval mode, which applies its running statistics the same way) folded
// into the convolution before it, at the layer level from tensor ops (so every
// device runs it: the CPU, and CUDA through the same ops):
//   bn(conv(x, W, b)) = conv(x, W * s, b * s + t),  s = weight * rsqrt(running_var + eps),
//                                                   t = bias - running_mean * s   (per output channel),
// then the residual add and the ReLU go into the convolution's epilogue (kernels/conv/conv_fused.h), so
// conv -> frozen BN -> (+ identity) -> ReLU is one pass over memory. The math is exact; float32 rounding
// differs from the separate ops (the products are rounded after scaling instead of before). Trainable conv
// weights stay trainable: W * s is recomputed under autograd each forward, so dW = s * d(W * s).
// MRC_FOLD_BN=0 in the environment, or set_fold_frozen_bn(false), runs the separate ops instead.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "layers/layers.h"

namespace mrc {

bool fold_frozen_bn_enabled();
void set_fold_frozen_bn(bool on);

// One conv -> norm pair's folded weight and bias, cached (when nothing needs their gradient) until the conv's
// or the norm's tensors change (storage or version).
class ConvNormFold {
 public:
  // relu?(norm(conv(x)) + residual); residual may be undefined. Folds and fuses when folding is on and
  // `norm` is a FrozenBatchNorm2d or a BatchNorm2d in eval mode; otherwise the separate ops.
  Tensor forward(Conv2d& conv, UnaryModule& norm, const Tensor& x, const Tensor& residual = Tensor(),
                 bool relu = false);

 private:
  Tensor weight_, bias_;
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> key_;  // held, so no address is reused
};

}  // namespace mrc
