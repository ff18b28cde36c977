// Gradient clipping (see clip.h). Per-gradient norms come from the engine's reductions (which
// accumulate in double); they are combined on the gradients' device in double and read once.
#include "optim/clip.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"

namespace mrc {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, const ClipOptions& opt) {
  if (!(opt.norm_type > 0)) throw std::invalid_argument("clip_grad_norm: norm_type must be > 0, got " + std::to_string(opt.norm_type));
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  // One reduction over all gradients and one read of its result (a single host sync on CUDA): each
  // gradient's contribution stays on its device, in float64, until the total.
  const double q = opt.norm_type;
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
  double total = 0;
  if (!parts.empty()) {
    const Tensor all = stack(parts);
    total = (std::isinf(q) ? max(all) : sum(all)).item_double();
  }
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

double clip_grad_norm(const NamedTensors& params, double max_norm, const ClipOptions& options) {
  std::vector<Tensor> ts;
  ts.reserve(params.size());
  for (const auto& [n, t] : params) ts.push_back(t);
  return clip_grad_norm(ts, max_norm, options);
}

}  // namespace mrc
