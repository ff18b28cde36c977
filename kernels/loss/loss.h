// Losses with torch.nn.functional semantics, forward and backward (composed from differentiable ops,
// plus one fused node for the logistic loss).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace mrc {

enum class Reduction : uint8_t { None, Mean, Sum };

// logits [N, C] (or [N, C, d1, ...]), target int64 [N] (or [N, d1, ...]) with classes in [0, C) or
// ignore_index; weight: optional [C] class weights. Mean is torch's weighted mean: the sum of
// weight[target] * loss over non-ignored elements divided by the sum of their weights (NaN when every
// target is ignored, as torch). None returns per-element losses, 0 where ignored.
// TargetCheck::Read reads the targets' smallest and largest values to the host (one read, a sync on CUDA) and
// throws naming a value out of range; TargetCheck::NaN reads nothing: a target out of range makes its loss
// NaN (and the mean or sum NaN), for callers whose targets are in range by construction.
enum class TargetCheck : uint8_t { Read, NaN };
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean,
                     TargetCheck check = TargetCheck::Read);

// max(x, 0) - x * t + log(1 + exp(-|x|)), times weight (optional, broadcastable to x). Target has x's
// shape and dtype. Gradient w.r.t. x is (sigmoid(x) - t) * weight, exact at x = 0 too.
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight = Tensor(),
                                        Reduction reduction = Reduction::Mean);

// 0.5 * d^2 / beta where |d| < beta, else |d| - 0.5 * beta (d = x - y); beta = 0 is the L1 loss.
Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, double beta = 1.0, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction reduction = Reduction::Mean);

// Applies a reduction to per-element losses (Mean of an empty tensor is NaN, as torch).
Tensor reduce_loss(const Tensor& loss, Reduction reduction);

}  // namespace mrc
