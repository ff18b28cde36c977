// Losses (see loss.h). cross_entropy and the L1 family are composed from differentiable ops;
// binary_cross_entropy_with_logits has its own backward, (sigmoid(x) - t) * w, which stays exact at
// x = 0 where a composed |x| would lose the gradient.
#include "kernels/loss/loss.h"

#include "kernels/elementwise/elementwise.h"
#include "kernels/index/index.h"
#include "kernels/reduce/reduce.h"
#include "kernels/softmax/softmax.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {
Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

void check_pair(const char* op, const Tensor& x, const Tensor& y) {
  check_defined(op, x, "input");
  check_defined(op, y, "target");
  check_same_device(op, x, y);
  check_same_dtype(op, x, y);
  if (x.shape() != y.shape())
    throw_arg(op, "input " + shape_str(x.shape()) + " and target " + shape_str(y.shape()) + " must have the same shape");
}
}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction) {
  const char* op = "cross_entropy";
  check_defined(op, logits, "logits");
  check_defined(op, target, "target");
  if (logits.dim() != 2) throw_arg(op, "logits must be [N, C], got " + shape_str(logits.shape()));
  if (target.dtype() != DType::Int64) throw_arg(op, std::string("target must be int64, got ") + dtype_name(target.dtype()));
  if (target.dim() != 1 || target.size(0) != logits.size(0))
    throw_arg(op, "target must be [" + std::to_string(logits.size(0)) + "], got " + shape_str(target.shape()));
  const int64_t C = logits.size(1);
  if (weight.defined() && (weight.dim() != 1 || weight.size(0) != C))
    throw_arg(op, "weight must be [" + std::to_string(C) + "], got " + shape_str(weight.shape()));
  const Tensor valid = ne(target, double(ignore_index));
  const Tensor safe_target = where(valid, target, Tensor::zeros({}, DType::Int64, target.device()));
  {
    const auto t = boolean_mask(target, valid);
    if (t.numel() && (min(t).item<int64_t>() < 0 || max(t).item<int64_t>() >= C))
      throw_arg(op, "target values must be in [0, " + std::to_string(C) + ") or ignore_index");
  }
  const Tensor logp = log_softmax(logits, 1);
  const Tensor picked = gather(logp, 1, safe_target.unsqueeze(1)).squeeze(1);
  Tensor w = valid.to(logits.dtype());
  if (weight.defined()) w = mul(w, index_select(weight.detach(), 0, safe_target));
  const Tensor loss = neg(mul(picked, w));
  if (reduction == Reduction::None) return loss;
  if (reduction == Reduction::Sum) return sum(loss);
  return div(sum(loss), sum(w));
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, x, target);
  Tensor loss;
  {
    NoGradGuard ng;
    // max(x, 0) - x t + log(1 + exp(-|x|))
    loss = add(sub(relu(x), mul(x, target)), log1p(exp(neg(abs(x)))));
    if (weight.defined()) loss = mul(loss, weight);
  }
  SavedTensor sx(x), st(target), sw(weight);
  const bool has_w = weight.defined();
  loss = record(loss, {x, target}, op, [sx, st, sw, has_w](const Tensor& g) -> std::vector<Tensor> {
    const Tensor xv = sx.get(), tv = st.get();
    Tensor gx = mul(sub(sigmoid(xv), tv), g);
    Tensor gt = mul(neg(xv), g);
    if (has_w) {
      gx = mul(gx, sw.get());
      gt = mul(gt, sw.get());
    }
    return {gx, gt};
  });
  return reduce(loss, reduction);
}

Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, double beta, Reduction reduction) {
  check_pair("smooth_l1_loss", x, y);
  if (beta < 0) throw_arg("smooth_l1_loss", "beta must be >= 0");
  const Tensor d = sub(x, y);
  if (beta == 0) return reduce(abs(d), reduction);
  const Tensor ad = abs(d);
  const Tensor quad = mul(mul(d, d), 0.5 / beta);
  const Tensor lin = add(ad, -0.5 * beta);
  return reduce(where(lt(ad.detach(), beta), quad, lin), reduction);
}

Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction reduction) {
  check_pair("l1_loss", x, y);
  return reduce(abs(sub(x, y)), reduction);
}

}  // namespace mrc
