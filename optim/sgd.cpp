// SGD update (see sgd.h); the formula follows torch.optim.SGD's single-tensor path step for step.
#include "optim/sgd.h"

#include <stdexcept>

#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/ops.h"
#ifdef MRC_WITH_CUDA
#include "tensor/cuda/context.h"
#endif

namespace mrc {

ParamGroup SGD::group(NamedTensors params, const SGDOptions& o, std::string name) {
  ParamGroup g = make_group(std::move(params), o.lr, o.weight_decay, std::move(name));
  g.momentum = o.momentum;
  g.dampening = o.dampening;
  g.nesterov = o.nesterov;
  return g;
}

SGD::SGD(std::vector<ParamGroup> groups) : Optimizer("SGD", std::move(groups)) { validate_groups(); }

SGD::SGD(NamedTensors params, const SGDOptions& options) : SGD(std::vector<ParamGroup>{group(std::move(params), options)}) {}

void SGD::validate(const ParamGroup& g) const {
  Optimizer::validate(g);
  const std::string where = group_context(g);
  if (!(g.momentum >= 0)) throw std::invalid_argument(where + "momentum must be >= 0, got " + std::to_string(g.momentum));
  if (g.nesterov && (g.momentum <= 0 || g.dampening != 0))
    throw std::invalid_argument(where + "Nesterov momentum needs momentum > 0 and dampening = 0");
}

void SGD::update(const ParamGroup& g, const Tensor& param, const Tensor& grad, SlotMap& state) {
  Tensor d_p = grad;
  if (g.weight_decay != 0) d_p = add(grad, param, g.weight_decay);
  if (g.momentum != 0) {
    auto it = state.find("momentum_buffer");
    Tensor buf;
    if (it == state.end()) {
      buf = d_p.clone();
      state["momentum_buffer"] = buf;
    } else {
      buf = it->second;
      buf.mul_(g.momentum).add_(d_p, 1 - g.dampening);
    }
    d_p = g.nesterov ? add(d_p, buf, g.momentum) : buf;
  }
  param.detach().add_(d_p, -g.lr);
}

bool SGD::update_group(const ParamGroup& g, std::map<std::string, SlotMap>& state) {
#ifdef MRC_WITH_CUDA
  if (!kernels::multi_tensor_optim()) return false;
  // every parameter with a gradient (and its momentum buffer, if any) must suit the kernel; else per parameter
  int device = -1;
  for (const auto& [name, p] : g.params) {
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    if (!p.is_cuda() || p.dtype() != DType::Float32 || !p.is_contiguous() || grad.shape() != p.shape() ||
        grad.dtype() != p.dtype() || grad.device() != p.device() || !grad.is_contiguous() ||
        (device >= 0 && p.device().index != device))
      return false;
    device = p.device().index;
    const auto s = state.find(name);
    if (g.momentum != 0 && s != state.end()) {
      const auto b = s->second.find("momentum_buffer");
      if (b != s->second.end() && (!b->second.is_contiguous() || b->second.device() != p.device() ||
                                   b->second.dtype() != DType::Float32 || b->second.shape() != p.shape()))
        return false;
    }
  }
  if (device < 0) return false;
  std::vector<kernels::SgdTensor> list;
  for (const auto& [name, p] : g.params) {
    const Tensor grad = p.grad();
    if (!grad.defined()) continue;
    kernels::SgdTensor t{p.data<float>(), grad.data<float>(), nullptr, p.numel(), false};
    if (g.momentum != 0) {
      SlotMap& s = state[name];
      auto b = s.find("momentum_buffer");
      if (b == s.end()) {
        b = s.emplace("momentum_buffer", Tensor::empty(p.shape(), DType::Float32, p.device())).first;
        t.first = true;
      }
      t.momentum_buffer = b->second.data<float>();
    }
    list.push_back(t);
  }
  const kernels::SgdHyper h{float(-g.lr), float(g.momentum), float(1 - g.dampening), float(g.weight_decay), g.nesterov};
  kernels::sgd_multi_tensor_cuda(list, h, cuda::current_stream(device));
  return true;
#else
  (void)g;
  (void)state;
  return false;
#endif
}

}  // namespace mrc
