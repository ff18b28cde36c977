// Normalization ops (NCHW or [N, C, ...]): batch norm (training statistics with running-stat updates, or
// eval with running stats), torchvision's frozen batch norm, and group norm. The CPU runs fused kernels
// (one pass per channel or group for each step); CUDA tensors take the same math composed from the
// elementwise and reduction ops until fused CUDA kernels exist.
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

namespace cpu {
// Every tensor contiguous; x, dy, out, grad_x viewed as [N, C, S]; per-channel vectors [C] in x's dtype.
// out = x * scale[c] + shift[c] (shift may be undefined: 0), rounded once (fma) when fused.
void channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift, const Tensor& out, bool fused = false);
// Mean and sum of squared deviations of each channel over N and S, rounded as torch's CPU batch norm does
// (sums in double; the mean and each squared deviation in x's type).
void channel_moments(const Tensor& x, const Tensor& mean, const Tensor& var_sum);
// sum_dy[c] = sum(dy), sum_dy_xhat[c] = sum(dy * (x - mean[c]) * invstd[c]).
void batch_norm_grad_sums(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                          const Tensor& sum_dy, const Tensor& sum_dy_xhat);
// grad_x = scale[c] * (dy - sum_dy[c] / count - xhat * sum_dy_xhat[c] / count), count = N * S.
void batch_norm_backward_input(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                               const Tensor& scale, const Tensor& sum_dy, const Tensor& sum_dy_xhat, const Tensor& grad_x);
// mean, rstd: [N, groups]; weight / bias may be undefined.
void group_norm_forward(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps,
                        const Tensor& out, const Tensor& mean, const Tensor& rstd);
// Any of grad_x, grad_w, grad_b may be undefined (not wanted).
void group_norm_backward(const Tensor& dy, const Tensor& x, int64_t groups, const Tensor& mean, const Tensor& rstd,
                         const Tensor& weight, const Tensor& grad_x, const Tensor& grad_w, const Tensor& grad_b);
}  // namespace cpu

}  // namespace mrc
