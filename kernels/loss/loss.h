// Losses with torch's semantics: cross_entropy (class weights, ignore_index, weighted mean),
// binary_cross_entropy_with_logits (stable form), smooth_l1_loss (beta) and l1_loss.
#pragma once
#include "tensor/tensor.h"

namespace mrc {

enum class Reduction { None, Mean, Sum };

// logits [N, C], target int64 [N]; weight [C] or undefined. Mean divides by the summed weights of the
// non-ignored targets (torch's weighted mean).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
// x and target of one shape; weight broadcastable to it or undefined.
Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight = Tensor(),
                                        Reduction reduction = Reduction::Mean);
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta = 0 is the L1 loss.
Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, double beta = 1.0, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction reduction = Reduction::Mean);

}  // namespace mrc
