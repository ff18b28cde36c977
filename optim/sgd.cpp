// SGD update (see sgd.h); the formula follows torch.optim.SGD's single-tensor path step for step.
#include "optim/sgd.h"

#include <stdexcept>
#include <type_traits>

#include "kernels/multi_tensor/multi_tensor.h"
#include "kernels/ops.h"
#include "tensor/dispatch.h"
#include "tensor/parallel.h"
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

namespace {

// The per-parameter path below in one pass over contiguous CPU tensors: the same operations in the same
// order and precision per element (each op's rounding as the elementwise kernels do it: a + float(alpha) * b
// for add with alpha != 1, x * T(s) for mul_ by a scalar), so the result is bit-identical; it
// reads and writes each array once instead of four passes and a temporary.
template <class T, bool Decay, bool Momentum, bool First, bool UnitDamp, bool Nesterov>
void sgd_range(const ParamGroup& g, T* __restrict p, const T* __restrict grad, T* __restrict buf, int64_t n) {
  const T wd = T(g.weight_decay), damp = T(1 - g.dampening), mom = T(g.momentum), neg_lr = T(-g.lr);
  for (int64_t i = 0; i < n; ++i) {
    T d = Decay ? T(grad[i] + wd * p[i]) : grad[i];
    if constexpr (Momentum) {
      T b = d;
      if constexpr (!First) b = UnitDamp ? T(T(buf[i] * mom) + d) : T(T(buf[i] * mom) + damp * d);
      buf[i] = b;
      d = Nesterov ? T(d + mom * b) : b;
    }
    p[i] = T(p[i] + neg_lr * d);
  }
}

template <class T>
void sgd_step_cpu(const ParamGroup& g, T* p, const T* grad, T* buf, bool first, int64_t n) {
  using Range = void (*)(const ParamGroup&, T*, const T*, T*, int64_t);
  auto pick = [&](auto decay, auto unit_damp) -> Range {
    if (g.momentum == 0) return sgd_range<T, decay(), false, false, false, false>;
    if (first) return g.nesterov ? sgd_range<T, decay(), true, true, unit_damp(), true> : sgd_range<T, decay(), true, true, unit_damp(), false>;
    return g.nesterov ? sgd_range<T, decay(), true, false, unit_damp(), true> : sgd_range<T, decay(), true, false, unit_damp(), false>;
  };
  using Yes = std::true_type;
  using No = std::false_type;
  const bool decay = g.weight_decay != 0, unit_damp = 1 - g.dampening == 1;
  const Range range = decay ? (unit_damp ? pick(Yes{}, Yes{}) : pick(Yes{}, No{})) : (unit_damp ? pick(No{}, Yes{}) : pick(No{}, No{}));
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1) { range(g, p + i0, grad + i0, buf ? buf + i0 : nullptr, i1 - i0); });
}

// Whether sgd_step_cpu takes this parameter: contiguous CPU float tensors of one dtype and shape.
bool fused_cpu(const Tensor& param, const Tensor& grad, const Tensor* buf) {
  auto ok = [&](const Tensor& t) {
    return t.device().is_cpu() && t.dtype() == param.dtype() && t.shape() == param.shape() && t.is_contiguous();
  };
  return (param.dtype() == DType::Float32 || param.dtype() == DType::Float64) && ok(param) && ok(grad) &&
         (!buf || ok(*buf)) && (!buf || buf->storage() != param.storage()) && grad.storage() != param.storage();
}

}  // namespace

void SGD::update(const ParamGroup& g, const Tensor& param, const Tensor& grad, SlotMap& state) {
  {
    auto it = state.find("momentum_buffer");
    const bool first = g.momentum != 0 && it == state.end();
    const Tensor* buf = g.momentum != 0 && !first ? &it->second : nullptr;
    if (fused_cpu(param, grad, buf)) {
      Tensor b = first ? Tensor::empty(param.shape(), param.dtype(), param.device()) : Tensor();
      if (first) state["momentum_buffer"] = b;
      else if (buf) b = *buf;
      MRC_DISPATCH_FLOATING(param.dtype(), "sgd", [&] {
        sgd_step_cpu<scalar_t>(g, param.data<scalar_t>(), grad.data<scalar_t>(),
                               b.defined() ? b.data<scalar_t>() : nullptr, first, param.numel());
      });
      param.storage()->bump_version();
      if (b.defined()) b.storage()->bump_version();
      return;
    }
  }
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
