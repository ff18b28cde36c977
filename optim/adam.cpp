// Adam / AdamW update (see adam.h); the formula follows torch.optim.Adam's single-tensor path.
#include "optim/adam.h"

#include <cmath>
#include <stdexcept>

#include "kernels/ops.h"

namespace mrc {

ParamGroup Adam::group(NamedTensors params, const AdamOptions& o, std::string name) {
  ParamGroup g = make_group(std::move(params), o.lr, o.weight_decay, std::move(name));
  g.beta1 = o.beta1;
  g.beta2 = o.beta2;
  g.eps = o.eps;
  g.amsgrad = o.amsgrad;
  return g;
}

Adam::Adam(std::string type, std::vector<ParamGroup> groups) : Optimizer(std::move(type), std::move(groups)) {
  validate_groups();
}

void Adam::validate(const ParamGroup& g) const {
  Optimizer::validate(g);
  const std::string where = group_context(g);
  if (!(g.beta1 >= 0 && g.beta1 < 1)) throw std::invalid_argument(where + "beta1 must be in [0, 1), got " + std::to_string(g.beta1));
  if (!(g.beta2 >= 0 && g.beta2 < 1)) throw std::invalid_argument(where + "beta2 must be in [0, 1), got " + std::to_string(g.beta2));
  if (!(g.eps >= 0)) throw std::invalid_argument(where + "eps must be >= 0, got " + std::to_string(g.eps));
}

void Adam::update(const ParamGroup& g, const Tensor& param_in, const Tensor& grad_in, SlotMap& state) {
  Tensor param = param_in.detach();
  if (!state.count("step")) {
    state["step"] = Tensor::zeros({}, DType::Float64);
    state["exp_avg"] = Tensor::zeros_like(param);
    state["exp_avg_sq"] = Tensor::zeros_like(param);
    if (g.amsgrad) state["max_exp_avg_sq"] = Tensor::zeros_like(param);
  }
  Tensor& step_t = state["step"];
  Tensor& exp_avg = state["exp_avg"];
  Tensor& exp_avg_sq = state["exp_avg_sq"];
  const double step = step_t.item_double() + 1;
  step_t.fill_(step);

  Tensor grad = grad_in;
  if (decoupled_weight_decay())
    param.mul_(1 - g.lr * g.weight_decay);
  else if (g.weight_decay != 0)
    grad = add(grad, param, g.weight_decay);

  exp_avg.mul_(g.beta1).add_(grad, 1 - g.beta1);
  exp_avg_sq.mul_(g.beta2).addcmul_(grad, grad, 1 - g.beta2);

  const double bias_correction1 = 1 - std::pow(g.beta1, step);
  const double bias_correction2 = 1 - std::pow(g.beta2, step);
  const double step_size = g.lr / bias_correction1;

  Tensor second = exp_avg_sq;
  if (g.amsgrad) {
    // AMSGrad switched on after some steps starts its running maximum from the current moment.
    auto it = state.find("max_exp_avg_sq");
    if (it == state.end()) it = state.emplace("max_exp_avg_sq", exp_avg_sq.clone()).first;
    else it->second.copy_(maximum(it->second, exp_avg_sq));
    second = it->second;
  }
  // torch divides by sqrt(bias_correction2); multiplying by its reciprocal differs by an ulp at most
  // and needs no device scalar.
  const Tensor denom = add(mul(sqrt(second), 1.0 / std::sqrt(bias_correction2)), g.eps);
  param.addcdiv_(exp_avg, denom, -step_size);
}

}  // namespace mrc
