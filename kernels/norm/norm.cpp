// Normalization ops: argument checks, the fused CPU path with its backward, and the same math composed
// from elementwise and reduction ops for CUDA tensors (see norm.h).
#include "kernels/norm/norm.h"

#include <cmath>
#include <vector>

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


// ---- composed (CUDA tensors; the public ops below have checked the arguments) ----

Tensor batch_norm_composed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const Shape cs = channel_shape(x);
  if (!training) {
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

Tensor frozen_batch_norm_composed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double eps) {
  const Shape cs = channel_shape(x);
  Tensor scale, shift;
  {
    NoGradGuard ng;
    scale = mul(weight, rsqrt(add(running_var, eps)));
    shift = sub(bias, mul(running_mean, scale));
  }
  return add(mul(x, scale.view(cs)), shift.view(cs));
}

Tensor group_norm_composed(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const Tensor g = x.reshape({x.size(0), groups, -1});
  const Tensor m = mean(g, {2}, true);
  const Tensor centered = sub(g, m);
  const Tensor var = mean(mul(centered, centered), {2}, true);
  const Tensor y = mul(centered, rsqrt(add(var, eps))).reshape(x.shape());
  return affine(y, weight, bias, channel_shape(x));
}


bool wants(const Tensor& t) { return t.defined() && t.requires_grad() && grad_enabled(); }

template <class F>
Tensor per_channel(int64_t c, DType dtype, F f) {  // a host vector of c values f(i), as dtype
  std::vector<double> v(static_cast<size_t>(c));
  for (int64_t i = 0; i < c; ++i) v[size_t(i)] = f(i);
  return Tensor::from_vector(v, {c}).to(dtype);
}

std::vector<double> host(const Tensor& t) { return t.defined() ? t.to_vector<double>() : std::vector<double>(); }

Tensor affine_raw(const Tensor& x, const Tensor& scale, const Tensor& shift, bool fused = false) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel()) cpu::channel_affine(x, scale, shift, out, fused);
  return out;
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
  if (!training && (!running_mean.defined() || !running_var.defined()))
    throw_arg(op, "eval mode needs running_mean and running_var");
  const int64_t c = x.size(1), count = x.numel() / std::max<int64_t>(c, 1);
  if (training && count <= 1)
    throw_arg(op, "training needs more than one value per channel, got input shape " + shape_str(x.shape()));
  if (x.is_cuda()) return batch_norm_composed(x, weight, bias, running_mean, running_var, training, momentum, eps);

  const Tensor xc = x.detach().contiguous();
  // Statistics, scale and shift rounded step by step as torch 1.13's CPU kernel (its AVX2 build contracts a*b+c
  // into fma): var = var_sum / count in x's type, invstd = 1 / sqrt(var + eps) in double (training) or in x's type
  // from running_var (eval); scale = invstd * weight in x's type; shift = fma(-mean, scale, bias); out = fma(x,
  // scale, shift); running mean momentum * mean + (1 - momentum) * running_mean and running var
  // fma(momentum, unbiased var, (1 - momentum) * running_var), in x's type. Bit-exact for 4-D float32 input (test_norm); 2-D input
  // takes another torch kernel whose sums differ in order (within 1e-5 relative).
  Tensor mean, invstd;
  const bool single = x.dtype() == DType::Float32;
  auto in_type = [single](double v) { return single ? double(float(v)) : v; };
  auto fma_in_type = [single](double a, double b, double c) {
    return single ? double(std::fma(float(a), float(b), float(c))) : std::fma(a, b, c);
  };
  if (training) {
    mean = Tensor::empty({c}, x.dtype());
    Tensor var_sum = Tensor::empty({c}, x.dtype());
    cpu::channel_moments(xc, mean, var_sum);
    const auto vs = host(var_sum), mh = host(mean);
    invstd = per_channel(c, x.dtype(), [&](int64_t i) {
      return 1.0 / std::sqrt(in_type(vs[size_t(i)] / in_type(double(count))) + eps);
    });
    if (running_mean.defined() && running_var.defined()) {
      NoGradGuard ng;
      const auto rm = host(running_mean), rv = host(running_var);
      const double keep = in_type(1 - momentum), take = in_type(momentum);  // running statistics in x's type
      Tensor(running_mean).copy_(per_channel(c, running_mean.dtype(), [&](int64_t i) {
        return in_type(in_type(take * mh[size_t(i)]) + in_type(keep * rm[size_t(i)]));
      }).to(running_mean.device()));
      Tensor(running_var).copy_(per_channel(c, running_var.dtype(), [&](int64_t i) {  // unbiased, as torch
        const double unbiased = in_type(vs[size_t(i)] / in_type(double(count - 1)));
        return fma_in_type(take, unbiased, in_type(keep * rv[size_t(i)]));
      }).to(running_var.device()));
    }
  } else {
    mean = running_mean.detach().contiguous().clone();
    const auto v = host(running_var);
    invstd = per_channel(c, x.dtype(), [&](int64_t i) {
      return in_type(1.0 / in_type(std::sqrt(in_type(v[size_t(i)] + in_type(eps)))));
    });
  }
  const auto m = host(mean), is = host(invstd), w = host(weight), b = host(bias);
  const Tensor scale = per_channel(c, x.dtype(), [&](int64_t i) { return in_type(is[size_t(i)] * (w.empty() ? 1.0 : w[size_t(i)])); });
  const auto sc = host(scale);
  const Tensor shift = per_channel(c, x.dtype(), [&](int64_t i) {
    return fma_in_type(-m[size_t(i)], sc[size_t(i)], b.empty() ? 0.0 : b[size_t(i)]);
  });
  Tensor out = affine_raw(xc, scale, shift, true);

  const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
  if (!(need_x || need_w || need_b)) return out;
  SavedTensor sx(xc);
  return record(out, {x, weight, bias}, op, [=](const Tensor& g_in) -> std::vector<Tensor> {
    const Tensor g = g_in.contiguous(), xs = sx.get();
    Tensor sum_dy = Tensor::empty({c}, g.dtype()), sum_dy_xhat = Tensor::empty({c}, g.dtype());
    if (training || need_w || need_b) cpu::batch_norm_grad_sums(g, xs, mean, invstd, sum_dy, sum_dy_xhat);
    Tensor gx;
    if (need_x) {
      if (training) {  // the batch statistics depend on x too
        gx = Tensor::empty(xs.shape(), g.dtype());
        if (gx.numel()) cpu::batch_norm_backward_input(g, xs, mean, invstd, scale, sum_dy, sum_dy_xhat, gx);
      } else {
        gx = affine_raw(g, scale, Tensor());
      }
    }
    return {gx, need_w ? sum_dy_xhat : Tensor(), need_b ? sum_dy : Tensor()};
  });
}

Tensor frozen_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double eps) {
  const char* op = "frozen_batch_norm";
  check_input(op, x);
  for (auto [t, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}, {&running_mean, "running_mean"}, {&running_var, "running_var"}}) {
    check_defined(op, *t, name);
    check_channel_vector(op, x, *t, name);
  }
  if (x.is_cuda()) return frozen_batch_norm_composed(x, weight, bias, running_mean, running_var, eps);
  // torchvision's order of operations, in x's precision: scale = w * rsqrt(rv + eps), shift = b - rm * scale
  Tensor scale = Tensor::empty({x.size(1)}, x.dtype()), shift = Tensor::empty({x.size(1)}, x.dtype());
  MRC_DISPATCH_FLOATING(x.dtype(), op, [&] {
    using T = scalar_t;
    const auto w = weight.to_vector<T>(), b = bias.to_vector<T>(), rm = running_mean.to_vector<T>(), rv = running_var.to_vector<T>();
    T *sc = scale.data<T>(), *sh = shift.data<T>();
    for (size_t i = 0; i < w.size(); ++i) {
      sc[i] = w[i] * (T(1) / std::sqrt(rv[i] + T(eps)));
      sh[i] = b[i] - rm[i] * sc[i];
    }
  });
  Tensor out = affine_raw(x.detach().contiguous(), scale, shift);
  return record(out, {x}, op, [scale](const Tensor& g) -> std::vector<Tensor> {
    return {affine_raw(g.contiguous(), scale, Tensor())};
  });
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_input(op, x);
  check_channel_vector(op, x, weight, "weight");
  check_channel_vector(op, x, bias, "bias");
  const int64_t n = x.size(0), c = x.size(1);
  if (groups < 1 || c % groups != 0)
    throw_arg(op, "groups (" + std::to_string(groups) + ") must divide the channels (" + std::to_string(c) + ")");
  if (x.is_cuda()) return group_norm_composed(x, groups, weight, bias, eps);
  const Tensor xc = x.detach().contiguous();
  const Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({n, groups}, x.dtype()), rstd = Tensor::empty({n, groups}, x.dtype());
  if (x.numel()) cpu::group_norm_forward(xc, groups, wc, bc, eps, out, mean, rstd);
  const bool need_x = wants(x), need_w = wants(weight), need_b = wants(bias);
  if (!(need_x || need_w || need_b)) return out;
  SavedTensor sx(xc), sw(wc);
  return record(out, {x, weight, bias}, op, [=](const Tensor& g_in) -> std::vector<Tensor> {
    const Tensor g = g_in.contiguous(), xs = sx.get();
    Tensor gx = need_x ? Tensor::empty(xs.shape(), g.dtype()) : Tensor();
    Tensor gw = need_w ? Tensor::empty({c}, g.dtype()) : Tensor();
    Tensor gb = need_b ? Tensor::empty({c}, g.dtype()) : Tensor();
    if (xs.numel()) {
      cpu::group_norm_backward(g, xs, groups, mean, rstd, sw.get(), gx, gw, gb);
    } else {
      if (gw.defined()) gw.zero_();
      if (gb.defined()) gb.zero_();
    }
    return {gx, gw, gb};
  });
}

}  // namespace mrc
