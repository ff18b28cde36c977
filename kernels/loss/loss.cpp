// Losses: argument checks and the formulas, written with the differentiable ops (log_softmax, gather,
// where, ...) so their backward comes from those; the logistic loss is one fused node because the
// composed form has the wrong derivative at x = 0 (where relu' and |x|' switch).
#include "kernels/loss/loss.h"

#include <cmath>
#include <string>
#include <vector>

#include "kernels/elementwise/elementwise.h"
#include "kernels/index/index.h"
#include "kernels/reduce/reduce.h"
#include "kernels/softmax/softmax.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {

void check_float(const char* op, const Tensor& t, const char* arg) {
  check_defined(op, t, arg);
  if (t.dtype() != DType::Float32 && t.dtype() != DType::Float64)
    throw_arg(op, std::string(arg) + " must be float32 or float64, got " + dtype_name(t.dtype()));
}

enum class ShapeRule { Any, Exact, Broadcast };

// `t` must match `x` in dtype and device, and in shape as the rule says.
void check_like(const char* op, const Tensor& x, const Tensor& t, const char* xn, const char* tn, ShapeRule rule) {
  check_defined(op, t, tn);
  if (t.dtype() != x.dtype())
    throw_arg(op, std::string(tn) + " has dtype " + dtype_name(t.dtype()) + " but " + xn + " has " + dtype_name(x.dtype()));
  if (t.device() != x.device())
    throw_arg(op, std::string(tn) + " is on " + t.device().str() + " but " + xn + " is on " + x.device().str());
  if (rule == ShapeRule::Exact && t.shape() != x.shape())
    throw_arg(op, std::string(tn) + " has shape " + shape_str(t.shape()) + " but " + xn + " has " + shape_str(x.shape()) +
                      " (they must have the same shape)");
  if (rule == ShapeRule::Broadcast && !broadcasts_to(t.shape(), x.shape()))
    throw_arg(op, std::string(tn) + " of shape " + shape_str(t.shape()) + " does not broadcast to " + xn + "'s shape " +
                      shape_str(x.shape()));
}

}  // namespace

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return loss.numel() == 0 ? sum(loss) / 0.0 : mean(loss);
  }
  return loss;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, TargetCheck check) {
  const char* op = "cross_entropy";
  check_float(op, logits, "logits");
  check_defined(op, target, "target");
  if (logits.dim() < 2) throw_arg(op, "logits must be [N, C] or [N, C, d1, ...], got " + shape_str(logits.shape()));
  if (target.dtype() != DType::Int64) throw_arg(op, std::string("target must be int64, got ") + dtype_name(target.dtype()));
  check_same_device(op, logits, target);
  Shape want = logits.shape();
  want.erase(want.begin() + 1);
  if (target.shape() != want)
    throw_arg(op, "target has shape " + shape_str(target.shape()) + " but logits " + shape_str(logits.shape()) +
                      " need a target of shape " + shape_str(want));
  const int64_t classes = logits.size(1);
  if (weight.defined()) {
    check_like(op, logits, weight, "logits", "weight", ShapeRule::Any);
    if (weight.dim() != 1 || weight.size(0) != classes)
      throw_arg(op, "weight must have shape [" + std::to_string(classes) + "], got " + shape_str(weight.shape()));
  }
  const Tensor t = target.detach();
  const Tensor valid = ne(t, double(ignore_index));
  Tensor safe = where(valid, t, 0.0), bad;
  if (safe.numel() > 0 && check == TargetCheck::Read) {
    const std::vector<int64_t> range = stack({min(safe), max(safe)}).to_vector<int64_t>();  // one read
    const int64_t lo = range[0], hi = range[1];
    if (lo < 0 || hi >= classes)
      throw_arg(op, "target values must be in [0, " + std::to_string(classes) + ") or ignore_index " +
                        std::to_string(ignore_index) + ", found " + std::to_string(lo < 0 ? lo : hi));
  } else if (safe.numel() > 0) {  // out of range: class 0 picked, the loss made NaN below
    bad = logical_or(lt(safe, 0.0), ge(safe, double(classes)));
    safe = where(bad, Tensor::zeros({}, DType::Int64, safe.device()), safe);
  }
  const Tensor picked = gather(log_softmax(logits, 1), 1, safe.unsqueeze(1)).squeeze(1);
  Tensor w = valid.to(logits.dtype());
  if (weight.defined()) w = mul(index_select(weight, 0, safe.reshape({-1})).view(safe.shape()), w);
  Tensor loss = neg(mul(picked, w));
  if (bad.defined()) loss = where(bad, Tensor::full({}, NAN, loss.dtype(), loss.device()), loss);
  if (reduction == Reduction::Mean) return div(sum(loss), sum(w));
  return reduce_loss(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_float(op, x, "x");
  check_like(op, x, target, "x", "target", ShapeRule::Exact);
  if (weight.defined()) check_like(op, x, weight, "x", "weight", ShapeRule::Broadcast);
  Tensor loss;
  {
    NoGradGuard ng;
    const Tensor xd = x.detach(), td = target.detach();
    loss = add(sub(relu(xd), mul(xd, td)), log1p(exp(neg(abs(xd)))));
    if (weight.defined()) loss = mul(loss, weight.detach());
  }
  if (needs_grad({&x, &target, &weight})) {
    const SavedTensor sx(x), st(target), sw(weight);
    const Shape wshape = weight.defined() ? weight.shape() : Shape{};
    const bool gw = weight.defined() && weight.requires_grad();
    loss = record(loss, {x, target, weight}, op, [sx, st, sw, wshape, gw](const Tensor& g) -> std::vector<Tensor> {
      const Tensor xv = sx.get(), tv = st.get();
      const Tensor gg = sw.defined() ? mul(g, sw.get()) : g;
      Tensor gweight;
      if (gw) gweight = sum_to(mul(g, add(sub(relu(xv), mul(xv, tv)), log1p(exp(neg(abs(xv)))))), wshape);
      return {mul(gg, sub(sigmoid(xv), tv)), mul(gg, neg(xv)), gweight};
    });
  }
  return reduce_loss(loss, reduction);
}

Tensor l1_loss(const Tensor& x, const Tensor& y, Reduction reduction) {
  check_float("l1_loss", x, "x");
  check_like("l1_loss", x, y, "x", "y", ShapeRule::Exact);
  return reduce_loss(abs(sub(x, y)), reduction);
}

Tensor smooth_l1_loss(const Tensor& x, const Tensor& y, double beta, Reduction reduction) {
  const char* op = "smooth_l1_loss";
  check_float(op, x, "x");
  check_like(op, x, y, "x", "y", ShapeRule::Exact);
  if (!(beta >= 0)) throw_arg(op, "beta must be >= 0, got " + std::to_string(beta));
  if (beta == 0) return l1_loss(x, y, reduction);
  const Tensor d = sub(x, y);
  const Tensor ad = abs(d);
  return reduce_loss(where(lt(ad, beta), mul(mul(d, d), 0.5 / beta), ad - 0.5 * beta), reduction);
}

}  // namespace mrc
