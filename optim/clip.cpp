// Gradient clipping (see clip.h). Per-gradient norms come from the engine's reductions (which
// accumulate in double); they are combined on the gradients' device in double and read once (clip_grad_norm) or not
// at all (clip_grad_norm_on_device, which also computes the coefficient there).
#include "optim/clip.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"

namespace mrc {

namespace {

std::vector<Tensor> grads_of(const std::vector<Tensor>& params, const ClipOptions& opt) {
  if (!(opt.norm_type > 0)) throw std::invalid_argument("clip_grad_norm: norm_type must be > 0, got " + std::to_string(opt.norm_type));
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

// The sum of |g|^q over all gradients (the max for q = inf) as a float64 scalar on their device, undefined when
// every gradient is empty: each gradient's contribution stays on its device, in float64, until the total.
Tensor powered_total(const std::vector<Tensor>& grads, double q) {
  std::vector<Tensor> parts;
  for (const Tensor& g : grads) {
    if (g.numel() == 0) continue;
    if (std::isinf(q)) parts.push_back(max(abs(g)).to(DType::Float64));
    else if (q == 2) {
      const Tensor n = norm(g).to(DType::Float64);
      parts.push_back(mul(n, n));
    }
    else parts.push_back(sum(pow(abs(g.to(DType::Float64)), q)));
  }
  if (parts.empty()) return Tensor();
  const Tensor all = stack(parts);
  return std::isinf(q) ? max(all) : sum(all);
}

}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, const ClipOptions& opt) {
  NoGradGuard no_grad;
  std::vector<Tensor> grads = grads_of(params, opt);
  if (grads.empty()) return 0.0;
  // One reduction over all gradients and one read of its result (a single host sync on CUDA)
  const double q = opt.norm_type;
  const Tensor powered = powered_total(grads, q);
  double total = powered.defined() ? powered.item_double() : 0.0;
  if (!std::isinf(q)) total = q == 2 ? std::sqrt(total) : std::pow(total, 1 / q);
  if (opt.error_if_nonfinite && !std::isfinite(total))
    throw std::runtime_error("clip_grad_norm: the total norm of order " + std::to_string(q) +
                             " of the gradients is non-finite (" + std::to_string(total) + ")");
  const double ratio = max_norm / (total + 1e-6);
  const double coef = std::isnan(ratio) ? ratio : std::min(1.0, ratio);
  // Scaling by exactly 1 changes nothing; a NaN coefficient is applied, as torch does.
  if (!(coef == 1.0))
    for (Tensor& g : grads) g.mul_(coef);
  return total;
}

Tensor clip_grad_norm_on_device(const NamedTensors& params, double max_norm, const ClipOptions& opt) {
  if (opt.error_if_nonfinite) throw std::invalid_argument("clip_grad_norm_on_device: error_if_nonfinite needs a host read");
  NoGradGuard no_grad;
  std::vector<Tensor> ps;
  for (const auto& [n, t] : params) ps.push_back(t);
  std::vector<Tensor> grads = grads_of(ps, opt);
  if (grads.empty()) return Tensor();
  const double q = opt.norm_type;
  Tensor total = powered_total(grads, q);
  if (!total.defined()) total = Tensor::zeros({}, DType::Float64, grads[0].device());
  if (!std::isinf(q)) total = q == 2 ? sqrt(total) : pow(total, 1 / q);
  // the host's max_norm / (total + 1e-6), capped at 1 unless NaN; scaling by 1 leaves every value as it is
  const Tensor ratio = div(Tensor::full({}, max_norm, DType::Float64, total.device()), add(total, 1e-6));
  const Tensor coef = where(gt(ratio, 1.0), Tensor::ones({}, DType::Float64, total.device()), ratio);
  for (Tensor& g : grads) g.mul_(coef.to(g.dtype()));
  return total;
}

double clip_grad_norm(const NamedTensors& params, double max_norm, const ClipOptions& options) {
  std::vector<Tensor> ts;
  ts.reserve(params.size());
  for (const auto& [n, t] : params) ts.push_back(t);
  return clip_grad_norm(ts, max_norm, options);
}

}  // namespace mrc
