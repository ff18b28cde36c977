// matmul / addmm / linear: shape handling and autograd on top of one differentiable batched product.
#include "kernels/linalg/linalg.h"

#include "kernels/elementwise/elementwise.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

namespace {

// A [B, M, K] operand the backends can read directly (each matrix row- or column-major).
Tensor gemm_ready(const Tensor& t) {
  const MatLayout l = mat_layout(t.size(1), t.size(2), t.stride(1), t.stride(2));
  return l.ok ? t : t.contiguous();
}

// out[i] = a[i] @ b[i] for a [B, M, K], b [B, K, N]; differentiable in both.
Tensor bmm(const Tensor& a, const Tensor& b) {
  const char* op = "matmul";
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  if (!a.is_floating_point()) throw_arg(op, std::string("needs floating-point operands, got ") + dtype_name(a.dtype()));
  if (a.size(0) != b.size(0) || a.size(2) != b.size(1))
    throw_arg(op, "shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) + " cannot be multiplied");
  Tensor out = Tensor::empty({a.size(0), a.size(1), b.size(2)}, a.dtype(), a.device());
  if (a.size(2) == 0)
    out.fill_(0);
  else if (out.numel())
    MRC_DISPATCH_DEVICE(a, bmm, gemm_ready(a.detach()), gemm_ready(b.detach()), out, false);
  if (!needs_grad({&a, &b})) return out;
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  SavedTensor sa(gb ? a : Tensor()), sb(ga ? b : Tensor());
  return record(out, {a, b}, "matmul", [sa, sb, ga, gb](const Tensor& g) -> std::vector<Tensor> {
    return {ga ? bmm(g, sb.get().transpose(1, 2)) : Tensor(), gb ? bmm(sa.get().transpose(1, 2), g) : Tensor()};
  });
}

Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_defined("matmul", a_in, "a");
  check_defined("matmul", b_in, "b");
  if (a_in.dim() == 0 || b_in.dim() == 0) throw_arg("matmul", "both operands need at least one dimension");
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  const Tensor a = a_vec ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_vec ? b_in.unsqueeze(-1) : b_in;
  if (a.size(-1) != b.size(-2))
    throw_arg("matmul", "shapes " + shape_str(a_in.shape()) + " and " + shape_str(b_in.shape()) + " cannot be multiplied");
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const Shape batch = broadcast_shapes(batch_of(a), batch_of(b));
  const int64_t B = shape_numel(batch);
  auto as3 = [&](const Tensor& t, int64_t r, int64_t c) {
    Shape full = batch;
    full.push_back(r);
    full.push_back(c);
    return t.expand(full).reshape({B, r, c});
  };
  Tensor out = bmm(as3(a, M, K), as3(b, K, N));
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(M);
  if (!b_vec) out_shape.push_back(N);
  return out.reshape(out_shape);
}

Tensor addmm(const Tensor& bias, const Tensor& a, const Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2) throw_arg("addmm", "a and b must be 2-D, got " + shape_str(a.shape()) + " and " + shape_str(b.shape()));
  return add(matmul(a, b), bias);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const char* op = "linear";
  check_defined(op, x, "input");
  check_defined(op, w, "weight");
  if (w.dim() != 2) throw_arg(op, "weight must be 2-D [out, in], got " + shape_str(w.shape()));
  if (x.dim() < 1 || x.size(-1) != w.size(1))
    throw_arg(op, "input " + shape_str(x.shape()) + " does not end in weight's in_features " + std::to_string(w.size(1)));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw_arg(op, "bias must have shape [" + std::to_string(w.size(0)) + "], got " + shape_str(b.shape()));
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  out_shape.push_back(w.size(0));
  const Tensor x2 = x.reshape({1, -1, x.size(-1)});
  Tensor out = bmm(x2, w.t().unsqueeze(0)).view({x2.size(1), w.size(0)});
  if (b.defined()) out = add(out, b);
  return out.reshape(out_shape);
}

}  // namespace mrc
