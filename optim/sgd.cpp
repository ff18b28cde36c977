// SGD update (see sgd.h); the formula follows torch.optim.SGD's single-tensor path step for step.
#include "optim/sgd.h"

#include <stdexcept>

#include "kernels/ops.h"

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

}  // namespace mrc
