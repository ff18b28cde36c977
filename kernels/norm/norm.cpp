// Normalization ops composed from elementwise and reduction ops (see norm.h).
#include "kernels/norm/norm.h"

#include "kernels/elementwise/elementwise.h"
#include "kernels/reduce/reduce.h"
#include "tensor/autograd.h"

namespace mrc {

namespace {

// Shape [1, C, 1, ...] that broadcasts a per-channel vector against x.
Shape channel_shape(const Tensor& x) {
  Shape s(size_t(x.dim()), 1);
  s[1] = x.size(1);
  return s;
}

void check_channel_vector(const char* op, const Tensor& x, const Tensor& v, const char* name) {
  if (!v.defined()) return;
  check_same_device(op, x, v);
  check_same_dtype(op, x, v);
  if (v.dim() != 1 || v.size(0) != x.size(1))
    throw_arg(op, std::string(name) + " must have shape [" + std::to_string(x.size(1)) + "], got " + shape_str(v.shape()));
}

void check_input(const char* op, const Tensor& x) {
  check_defined(op, x, "input");
  if (x.dim() < 2) throw_arg(op, "input must be [N, C, ...], got shape " + shape_str(x.shape()));
  if (!x.is_floating_point()) throw_arg(op, std::string("input must be floating point, got ") + dtype_name(x.dtype()));
}

Tensor affine(const Tensor& y, const Tensor& weight, const Tensor& bias, const Shape& cs) {
  Tensor out = weight.defined() ? mul(y, weight.view(cs)) : y;
  return bias.defined() ? add(out, bias.view(cs)) : out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_input(op, x);
  check_channel_vector(op, x, weight, "weight");
  check_channel_vector(op, x, bias, "bias");
  check_channel_vector(op, x, running_mean, "running_mean");
  check_channel_vector(op, x, running_var, "running_var");
  const Shape cs = channel_shape(x);
  if (!training) {
    if (!running_mean.defined() || !running_var.defined()) throw_arg(op, "eval mode needs running_mean and running_var");
    Tensor scale = rsqrt(add(running_var.detach(), eps));
    if (weight.defined()) scale = mul(scale, weight);
    Tensor shift = neg(mul(running_mean.detach(), scale));
    if (bias.defined()) shift = add(shift, bias);
    return add(mul(x, scale.view(cs)), shift.view(cs));
  }
  std::vector<int64_t> dims{0};
  int64_t count = x.size(0);
  for (int64_t d = 2; d < x.dim(); ++d) {
    dims.push_back(d);
    count *= x.size(d);
  }
  if (count <= 1) throw_arg(op, "training needs more than one value per channel, got input shape " + shape_str(x.shape()));
  const Tensor m = mean(x, dims, /*keepdim=*/true);
  const Tensor centered = sub(x, m);
  const Tensor var = mean(mul(centered, centered), dims, /*keepdim=*/true);
  if (running_mean.defined() && running_var.defined()) {
    NoGradGuard ng;
    Tensor rm = running_mean, rv = running_var;
    rm.mul_(1 - momentum).add_(m.detach().view({x.size(1)}), momentum);
    rv.mul_(1 - momentum).add_(var.detach().view({x.size(1)}), momentum * double(count) / double(count - 1));
  }
  return affine(mul(centered, rsqrt(add(var, eps))), weight, bias, cs);
}

Tensor frozen_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double eps) {
  const char* op = "frozen_batch_norm";
  check_input(op, x);
  for (auto [t, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"}, {&running_var, "running_var"}}) {
    check_defined(op, *t, name);
    check_channel_vector(op, x, *t, name);
  }
  const Shape cs = channel_shape(x);
  Tensor scale, shift;
  {
    NoGradGuard ng;
    scale = mul(weight, rsqrt(add(running_var, eps)));
    shift = sub(bias, mul(running_mean, scale));
  }
  return add(mul(x, scale.view(cs)), shift.view(cs));
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_input(op, x);
  check_channel_vector(op, x, weight, "weight");
  check_channel_vector(op, x, bias, "bias");
  const int64_t n = x.size(0), c = x.size(1);
  if (groups < 1 || c % groups != 0)
    throw_arg(op, "groups (" + std::to_string(groups) + ") must divide the channels (" + std::to_string(c) + ")");
  const Tensor g = x.reshape({n, groups, -1});
  const Tensor m = mean(g, {2}, true);
  const Tensor centered = sub(g, m);
  const Tensor var = mean(mul(centered, centered), {2}, true);
  const Tensor y = mul(centered, rsqrt(add(var, eps))).reshape(x.shape());
  return affine(y, weight, bias, channel_shape(x));
}

}  // namespace mrc
