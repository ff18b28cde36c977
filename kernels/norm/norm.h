// Normalization ops (NCHW or [N, C, ...]): batch norm (training statistics with running-stat updates, or
// eval with running stats), torchvision's frozen batch norm, and group norm. They are composed from the
// elementwise and reduction ops, so autograd and the CUDA backend come with those.
#pragma once
#include "tensor/tensor.h"

namespace mrc {

// Training: normalizes with the batch's biased variance and updates running_mean / running_var in place
// (unbiased variance, torch's momentum convention) when they are defined. Eval: uses the running stats.
// weight / bias may be undefined (no affine).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// torchvision.ops.FrozenBatchNorm2d: x * scale + shift, scale = weight * rsqrt(running_var + eps),
// shift = bias - running_mean * scale. Gradients flow to x only.
Tensor frozen_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double eps = 1e-5);

// torch.nn.functional.group_norm: statistics over (C / groups, spatial) per sample and group.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace mrc
