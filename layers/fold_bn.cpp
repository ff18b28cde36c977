// Frozen batch norm folded into convolutions (see fold_bn.h).
#include "layers/fold_bn.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "kernels/conv/conv_fused.h"
#include "kernels/ops.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {

bool initial_fold() {
  const char* v = std::getenv("MRC_FOLD_BN");
  return !(v && std::string(v) == "0");
}
bool g_fold = initial_fold();

// The per-channel affine map a norm layer applies, when it is one: frozen batch norm always, batch norm
// in eval mode (its running statistics). Null otherwise.
struct NormAffine {
  const Tensor *weight, *bias, *mean, *var;
  double eps;
};
std::optional<NormAffine> affine_of(UnaryModule& norm) {
  if (auto* f = dynamic_cast<FrozenBatchNorm2d*>(&norm))
    return NormAffine{&f->weight, &f->bias, &f->running_mean, &f->running_var, f->eps};
  if (auto* b = dynamic_cast<BatchNorm2d*>(&norm); b && !b->is_training())
    return NormAffine{&b->weight, &b->bias, &b->running_mean, &b->running_var, b->eps};
  return std::nullopt;
}

// The folded (weight, bias) of conv then the norm, from tensor ops (differentiable in the conv's parameters
// and the norm's weight and bias).
std::pair<Tensor, Tensor> fold(const Conv2d& conv, const NormAffine& n) {
  const Tensor scale = mul(*n.weight, rsqrt(add(n.var->detach(), n.eps)));
  const Tensor shift = sub(*n.bias, mul(n.mean->detach(), scale));
  const Tensor w = mul(conv.weight, scale.view({-1, 1, 1, 1}));
  const Tensor b = conv.bias.defined() ? add(mul(conv.bias, scale), shift) : shift;
  return {w, b};
}

}  // namespace

bool fold_frozen_bn_enabled() { return g_fold; }
void set_fold_frozen_bn(bool on) { g_fold = on; }

Tensor ConvNormFold::forward(Conv2d& conv, UnaryModule& norm, const Tensor& x, const Tensor& residual, bool relu_out) {
  const std::optional<NormAffine> n = g_fold ? affine_of(norm) : std::nullopt;
  if (!n) {
    Tensor y = norm.forward(conv.forward(x));
    if (residual.defined()) y = add(y, residual);
    return relu_out ? relu(y) : y;
  }
  const auto& o = conv.options;
  const Int2 stride(o.stride[0], o.stride[1]), padding(o.padding[0], o.padding[1]), dilation(o.dilation[0], o.dilation[1]);
  const Tensor* const inputs[] = {&conv.weight, &conv.bias, n->weight, n->bias, n->mean, n->var};
  if (needs_grad({inputs[0], inputs[1], inputs[2], inputs[3]})) {  // trainable: fold under autograd, every call
    const auto [w, b] = fold(conv, *n);
    return conv2d_fused(x, w, b, residual, relu_out, stride, padding, dilation, o.groups);
  }
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> key;
  for (const Tensor* t : inputs)
    key.emplace_back(t->defined() ? t->storage() : nullptr, t->defined() ? t->storage()->version() : 0);
  if (key != key_ || !weight_.defined()) {
    NoGradGuard ng;
    std::tie(weight_, bias_) = fold(conv, *n);
    weight_ = weight_.contiguous();
    key_ = std::move(key);
  }
  return conv2d_fused(x, weight_, bias_, residual, relu_out, stride, padding, dilation, o.groups);
}

}  // namespace mrc
