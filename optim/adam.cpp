// Adam / AdamW update (see adam.h); the formula follows torch.optim.Adam's single-tensor path.
#include "optim/adam.h"

#include <cmath>
#include <stdexcept>

#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/ops.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

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

namespace {

// A tensor the multi-tensor pass can write: contiguous float32 of the parameter's shape and device.
bool fits(const Tensor& t, const Tensor& p) {
  return t.defined() && t.is_contiguous() && t.dtype() == DType::Float32 && t.device() == p.device() &&
         t.shape() == p.shape();
}

}  // namespace

bool Adam::update_group(const ParamGroup& g, std::map<std::string, SlotMap>& state) {
  if (!kernels::multi_tensor_optim()) return false;
  // every parameter with a gradient, and the moments it has, must suit the pass; else per parameter
  bool any = false;
  Device dev = Device::cpu();
  for (const auto& [name, p] : g.params) {
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (!fits(p, p) || !fits(grad, p) || (any && p.device() != dev)) return false;
#ifndef MRC_WITH_CUDA
    if (p.is_cuda()) return false;
#endif
    any = true;
    dev = p.device();
    const auto s = state.find(name);
    if (s == state.end()) continue;
    for (const char* slot : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
      const auto t = s->second.find(slot);
      if (t != s->second.end() && !fits(t->second, p)) return false;
    }
    const auto step = s->second.find("step");
    if (step != s->second.end() && (step->second.is_cuda() || step->second.dtype() != DType::Float64)) return false;
  }
  if (!any) return false;

  kernels::AdamHyper h;
  h.beta1 = float(g.beta1);
  h.one_minus_beta1 = float(1 - g.beta1);
  h.beta2 = float(g.beta2);
  h.one_minus_beta2 = float(1 - g.beta2);
  h.eps = float(g.eps);
  h.decoupled = decoupled_weight_decay();
  h.weight_decay = h.decoupled ? 0.f : float(g.weight_decay);
  h.decay_factor = float(1 - g.lr * g.weight_decay);
  h.amsgrad = g.amsgrad;
  std::vector<kernels::AdamTensor> list;
  for (const auto& [name, p] : g.params) {
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    SlotMap& s = state[name];
    if (!s.count("step")) {  // as update(): a fresh parameter starts from zero moments
      s["step"] = Tensor::zeros({}, DType::Float64);
      s["exp_avg"] = Tensor::zeros_like(p.detach());
      s["exp_avg_sq"] = Tensor::zeros_like(p.detach());
    }
    // the step counter lives on the host (float64): read in place, no device read
    Tensor& step_t = s["step"];
    const double step = *step_t.contiguous().data<double>() + 1;
    step_t.fill_(step);
    kernels::AdamTensor t;
    t.param = p.data<float>();
    t.grad = grad.data<float>();
    t.exp_avg = s["exp_avg"].data<float>();
    t.exp_avg_sq = s["exp_avg_sq"].data<float>();
    t.n = p.numel();
    t.neg_step_size = float(-(g.lr / (1 - std::pow(g.beta1, step))));
    t.inv_sqrt_bc2 = float(1.0 / std::sqrt(1 - std::pow(g.beta2, step)));
    if (g.amsgrad) {
      auto m = s.find("max_exp_avg_sq");
      if (m == s.end()) {  // switched on now: the maximum starts from the current moment
        m = s.emplace("max_exp_avg_sq", Tensor::empty(p.shape(), DType::Float32, p.device())).first;
        t.max_first = true;
      }
      t.max_exp_avg_sq = m->second.data<float>();
    }
    list.push_back(t);
  }
#ifdef MRC_WITH_CUDA
  if (dev.is_cuda()) {
    kernels::adam_multi_tensor_cuda(list, h, cuda::current_stream(int(dev.index)));
    return true;
  }
#endif
  kernels::adam_multi_tensor_cpu(list, h);
  return true;
}

}  // namespace mrc
