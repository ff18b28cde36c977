// matmul / addmm / linear: argument checks, batch broadcasting, layouts for the backend, and the
// backward of each written with matmul itself (transposed views, no copies).
#include "kernels/linalg/linalg.h"

#include <stdexcept>
#include <string>

#include "kernels/elementwise/elementwise.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

void check_operands(const char* op, const Tensor& a, const Tensor& b, const char* an, const char* bn) {
  check_defined(op, a, an);
  check_defined(op, b, bn);
  if (a.dtype() != DType::Float32 && a.dtype() != DType::Float64)
    throw_arg(op, std::string(an) + " must be float32 or float64, got " + dtype_name(a.dtype()));
  if (b.dtype() != a.dtype())
    throw_arg(op, std::string(bn) + " has dtype " + dtype_name(b.dtype()) + " but " + an + " has " + dtype_name(a.dtype()));
  check_same_device(op, a, b);
}

// A detached [batch..., R, C] tensor as [B, R, C] the backend can read: batch dims collapsed into one
// stride and matrices row- or column-major; copied only when that is impossible.
Tensor as_batched(const Tensor& t) {
  const int64_t nd = t.dim(), r = t.size(-2), c = t.size(-1);
  int64_t batch = 1, stride = 0, expect = -1;
  bool collapsible = true;
  for (int64_t d = nd - 3; d >= 0; --d) {
    const int64_t s = t.shape()[size_t(d)], st = t.strides()[size_t(d)];
    batch *= s;
    if (s == 1) continue;
    if (expect < 0)
      stride = st;
    else if (st != expect)
      collapsible = false;
    expect = st * s;
  }
  if (collapsible && mat_layout(r, c, t.stride(-2), t.stride(-1)).ok)
    return make_view(t, {batch, r, c}, {stride, t.stride(-2), t.stride(-1)}, t.offset());
  const Tensor cont = t.contiguous();
  return make_view(cont, {batch, r, c}, {r * c, c, 1}, cont.offset());
}

// History-free batched product of a [..., M, K] and b [..., K, N] (batch dims broadcast).
Tensor product(const Tensor& a, const Tensor& b) {
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch;
  try {
    batch = broadcast_shapes(ba, bb);
  } catch (const std::invalid_argument&) {
    throw_arg("matmul", "batch dims of a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) + " do not broadcast");
  }
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {m, k});
  sb.insert(sb.end(), {k, n});
  so.insert(so.end(), {m, n});
  Tensor out = Tensor::empty(so, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  const Tensor a3 = as_batched(a.expand(sa)), b3 = as_batched(b.expand(sb));
  const Tensor o3 = make_view(out, {a3.size(0), m, n}, {m * n, n, 1}, 0);
  MRC_DISPATCH_DEVICE(a, bmm, a3, b3, o3, false);
  return out;
}

// a, b at least 2-D with a.size(-1) == b.size(-2).
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  if (b.dim() == 2 && a.dim() > 2) {
    // fold a's batch into rows: one GEMM, and a backward with no batch reduction
    Shape os = a.shape();
    os.back() = b.size(1);
    return matmul_nd(a.reshape({-1, a.size(-1)}), b).view(os);
  }
  Tensor out = product(a.detach(), b.detach());
  if (!needs_grad({&a, &b})) return out;
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  const SavedTensor sa(gb ? a : Tensor()), sb(ga ? b : Tensor());
  const Shape sha = a.shape(), shb = b.shape();
  return record(out, {a, b}, "matmul", [ga, gb, sa, sb, sha, shb](const Tensor& g) -> std::vector<Tensor> {
    return {ga ? sum_to(matmul_nd(g, sb.get().transpose(-1, -2)), sha) : Tensor(),
            gb ? sum_to(matmul_nd(sa.get().transpose(-1, -2), g), shb) : Tensor()};
  });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", a, b, "a", "b");
  if (a.dim() == 0 || b.dim() == 0)
    throw_arg("matmul", "both arguments need at least 1 dim, got a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()));
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  if (ka != kb)
    throw_arg("matmul", "a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()) + " cannot be multiplied (" +
                            std::to_string(ka) + " vs " + std::to_string(kb) + ")");
  Tensor out = matmul_nd(a.dim() == 1 ? a.unsqueeze(0) : a, b.dim() == 1 ? b.unsqueeze(1) : b);
  if (a.dim() == 1) out = out.squeeze(-2);
  if (b.dim() == 1) out = out.squeeze(-1);
  return out;
}

Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b) {
  check_operands("addmm", a, b, "a", "b");
  check_operands("addmm", a, bias, "a", "bias");
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0))
    throw_arg("addmm", "needs a [M, K] and b [K, N], got a " + shape_str(a.shape()) + " and b " + shape_str(b.shape()));
  const int64_t m = a.size(0), n = b.size(1);
  if (!broadcasts_to(bias.shape(), {m, n}))
    throw_arg("addmm", "bias of shape " + shape_str(bias.shape()) + " does not broadcast to " + shape_str({m, n}));
  Tensor out = Tensor::empty({m, n}, a.dtype(), a.device());
  {
    NoGradGuard ng;
    out.copy_(bias);
  }
  if (out.numel() > 0)
    MRC_DISPATCH_DEVICE(a, bmm, as_batched(a.detach()), as_batched(b.detach()), out.view({1, m, n}), true);
  if (!needs_grad({&bias, &a, &b})) return out;
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  const SavedTensor sa(gb ? a : Tensor()), sb(ga ? b : Tensor());
  const Shape shbias = bias.shape();
  return record(out, {bias, a, b}, "addmm", [ga, gb, sa, sb, shbias](const Tensor& g) -> std::vector<Tensor> {
    return {sum_to(g, shbias), ga ? matmul(g, sb.get().t()) : Tensor(), gb ? matmul(sa.get().t(), g) : Tensor()};
  });
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_operands("linear", x, w, "x", "w");
  if (w.dim() != 2) throw_arg("linear", "w must be 2-D [out_features, in_features], got " + shape_str(w.shape()));
  if (x.dim() == 0 || x.size(-1) != w.size(1))
    throw_arg("linear", "x has shape " + shape_str(x.shape()) + " but w " + shape_str(w.shape()) + " has in_features " +
                            std::to_string(w.size(1)) + " (x's last dim must match)");
  if (b.defined()) {
    check_operands("linear", x, b, "x", "b");
    if (b.dim() != 1 || b.size(0) != w.size(0))
      throw_arg("linear", "b must have shape [" + std::to_string(w.size(0)) + "], got " + shape_str(b.shape()));
  }
  Shape os = x.shape();
  os.back() = w.size(0);
  const Tensor x2 = x.dim() == 2 ? x : x.reshape({-1, x.size(-1)});
  const Tensor y = b.defined() ? addmm(b, x2, w.t()) : matmul(x2, w.t());
  return x.dim() == 2 ? y : y.view(os);
}

}  // namespace mrc
