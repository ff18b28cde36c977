// Elementwise ops: broadcasting, dtype checks, device dispatch and the derivative of each op.
#include "kernels/elementwise/elementwise.h"

#include <cmath>

#include "kernels/elementwise/elementwise_kernels.h"
#include "tensor/autograd.h"
#include "tensor/dispatch.h"

namespace mrc {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument("shapes " + shape_str(a) + " and " + shape_str(b) + " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& s, const Shape& t) {
  if (s.size() > t.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t a = s[s.size() - 1 - i], b = t[t.size() - 1 - i];
    if (a != 1 && a != b) return false;
  }
  return true;
}

namespace {

Tensor raw_unary(UnaryOp op, const Tensor& x, double p0 = 0, double p1 = 0) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  MRC_DISPATCH_DEVICE(x, unary, op, x, out, p0, p1);
  return out;
}

Tensor raw_binary(BinaryOp op, const Tensor& a, const Tensor& b, const char* name, double p0 = 0) {
  check_defined(name, a, "a");
  check_defined(name, b, "b");
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  const Shape s = broadcast_shapes(a.shape(), b.shape());
  Tensor out = Tensor::empty(s, is_comparison(op) ? DType::UInt8 : a.dtype(), a.device());
  MRC_DISPATCH_DEVICE(a, binary, op, a.detach().expand(s), b.detach().expand(s), out, p0);
  return out;
}

Tensor scalar_like(const Tensor& t, double v) { return Tensor::scalar(v, t.dtype(), t.device()); }
Tensor mask_as(const Tensor& mask, const Tensor& like) { return mask.to(like.dtype()); }

}  // namespace

// ---------------------------------------------------------------- unary

Tensor neg(const Tensor& x) {
  return record(raw_unary(UnaryOp::Neg, x), {x}, "neg", [](const Tensor& g) -> std::vector<Tensor> { return {neg(g)}; });
}

Tensor abs(const Tensor& x) {
  SavedTensor sx(x);
  return record(raw_unary(UnaryOp::Abs, x), {x}, "abs",
                [sx](const Tensor& g) -> std::vector<Tensor> { return {mul(g, sign(sx.get()))}; });
}

Tensor exp(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Exp, x);
  SavedTensor so(out);
  return record(out, {x}, "exp", [so](const Tensor& g) -> std::vector<Tensor> { return {mul(g, so.get())}; });
}

Tensor log(const Tensor& x) {
  SavedTensor sx(x);
  return record(raw_unary(UnaryOp::Log, x), {x}, "log",
                [sx](const Tensor& g) -> std::vector<Tensor> { return {div(g, sx.get())}; });
}

Tensor log1p(const Tensor& x) {
  SavedTensor sx(x);
  return record(raw_unary(UnaryOp::Log1p, x), {x}, "log1p",
                [sx](const Tensor& g) -> std::vector<Tensor> { return {div(g, add(sx.get(), 1.0))}; });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Sqrt, x);
  SavedTensor so(out);
  return record(out, {x}, "sqrt",
                [so](const Tensor& g) -> std::vector<Tensor> { return {div(mul(g, 0.5), so.get())}; });
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Rsqrt, x);
  SavedTensor so(out);
  return record(out, {x}, "rsqrt", [so](const Tensor& g) -> std::vector<Tensor> {
    const Tensor o = so.get();
    return {mul(g, mul(pow(o, 3), -0.5))};
  });
}

Tensor relu(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Relu, x);
  SavedTensor so(out);
  return record(out, {x}, "relu",
                [so](const Tensor& g) -> std::vector<Tensor> { return {relu_backward(g, so.get())}; });
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Sigmoid, x);
  SavedTensor so(out);
  return record(out, {x}, "sigmoid",
                [so](const Tensor& g) -> std::vector<Tensor> { return {sigmoid_backward(g, so.get())}; });
}

Tensor tanh(const Tensor& x) {
  Tensor out = raw_unary(UnaryOp::Tanh, x);
  SavedTensor so(out);
  return record(out, {x}, "tanh",
                [so](const Tensor& g) -> std::vector<Tensor> { return {tanh_backward(g, so.get())}; });
}

Tensor sign(const Tensor& x) { return raw_unary(UnaryOp::Sign, x.detach()); }
Tensor floor(const Tensor& x) { return raw_unary(UnaryOp::Floor, x.detach()); }
Tensor ceil(const Tensor& x) { return raw_unary(UnaryOp::Ceil, x.detach()); }
Tensor round(const Tensor& x) { return raw_unary(UnaryOp::Round, x.detach()); }
// The logical ops test "!= 0" in each operand's own dtype, as torch does: a cast to uint8 first would
// make 0.5 false, int64 256 false, and a negative float undefined.
Tensor logical_not(const Tensor& x) { return eq(x, 0.0); }

Tensor clamp(const Tensor& x, double lo, double hi) {
  SavedTensor sx(x);
  return record(raw_unary(UnaryOp::Clamp, x, lo, hi), {x}, "clamp", [sx, lo, hi](const Tensor& g) -> std::vector<Tensor> {
    const Tensor xv = sx.get();
    Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
    MRC_DISPATCH_DEVICE(g, ternary, TernaryOp::ClampBackward, g, xv, xv, out, lo, hi);
    return {out};
  });
}
Tensor clamp_min(const Tensor& x, double lo) { return clamp(x, lo, INFINITY); }
Tensor clamp_max(const Tensor& x, double hi) { return clamp(x, -INFINITY, hi); }

Tensor pow(const Tensor& x, double p) {
  SavedTensor sx(x);
  return record(raw_unary(UnaryOp::Pow, x, p), {x}, "pow", [sx, p](const Tensor& g) -> std::vector<Tensor> {
    if (p == 0) return {Tensor::zeros_like(g)};
    return {mul(g, mul(pow(sx.get(), p - 1), p))};
  });
}

Tensor square(const Tensor& x) { return mul(x, x); }

// ---------------------------------------------------------------- binary

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  const Shape sa = a.shape(), sb = b.shape();
  Tensor out = alpha == 1 ? raw_binary(BinaryOp::Add, a, b, "add") : raw_binary(BinaryOp::AddScaled, a, b, "add", alpha);
  return record(out, {a, b}, "add", [sa, sb, alpha](const Tensor& g) -> std::vector<Tensor> {
    return {sum_to(g, sa), sum_to(alpha == 1 ? g : mul(g, alpha), sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  const Shape sa = a.shape(), sb = b.shape();
  Tensor out = alpha == 1 ? raw_binary(BinaryOp::Sub, a, b, "sub") : raw_binary(BinaryOp::AddScaled, a, b, "sub", -alpha);
  return record(out, {a, b}, "sub", [sa, sb, alpha](const Tensor& g) -> std::vector<Tensor> {
    return {sum_to(g, sa), sum_to(mul(g, -alpha), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  SavedTensor sa(a.requires_grad() || b.requires_grad() ? b : Tensor());
  SavedTensor sb(a.requires_grad() || b.requires_grad() ? a : Tensor());
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  const Shape sha = a.shape(), shb = b.shape();
  return record(raw_binary(BinaryOp::Mul, a, b, "mul"), {a, b}, "mul",
                [sa, sb, ga, gb, sha, shb](const Tensor& g) -> std::vector<Tensor> {
                  return {ga ? sum_to(mul(g, sa.get()), sha) : Tensor(), gb ? sum_to(mul(g, sb.get()), shb) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = raw_binary(BinaryOp::Div, a, b, "div");
  if (!needs_grad({&a, &b})) return out;
  SavedTensor sb(b), so(out);
  const bool gb = b.requires_grad();
  const Shape sha = a.shape(), shb = b.shape();
  return record(out, {a, b}, "div", [sb, so, gb, sha, shb](const Tensor& g) -> std::vector<Tensor> {
    const Tensor bv = sb.get();
    const Tensor ga = div(g, bv);
    return {sum_to(ga, sha), gb ? sum_to(neg(mul(ga, so.get())), shb) : Tensor()};
  });
}

static Tensor minmax(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  Tensor out = raw_binary(op, a, b, name);
  if (!needs_grad({&a, &b})) return out;
  SavedTensor sa(a), sb(b);
  const Shape sha = a.shape(), shb = b.shape();
  const bool is_max = op == BinaryOp::Maximum;
  return record(out, {a, b}, name, [sa, sb, sha, shb, is_max](const Tensor& g) -> std::vector<Tensor> {
    const Tensor av = sa.get(), bv = sb.get();
    // ties split the gradient in half, as torch does
    const Tensor wins = mask_as(is_max ? gt(av, bv) : lt(av, bv), g);
    const Tensor ties = mul(mask_as(eq(av, bv), g), 0.5);
    const Tensor wa = add(wins, ties);
    const Tensor ga = mul(g, wa);
    return {sum_to(ga, sha), sum_to(sub(g, ga), shb)};
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) { return minmax(BinaryOp::Maximum, a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return minmax(BinaryOp::Minimum, a, b, "minimum"); }

Tensor add(const Tensor& a, double b) {
  return record(raw_unary(UnaryOp::AddScalar, a, b), {a}, "add_scalar", [](const Tensor& g) -> std::vector<Tensor> { return {g}; });
}
Tensor mul(const Tensor& a, double b) {
  return record(raw_unary(UnaryOp::MulScalar, a, b), {a}, "mul_scalar",
                [b](const Tensor& g) -> std::vector<Tensor> { return {mul(g, b)}; });
}

#define MRC_COMPARISON(NAME, OP)                                                                       \
  Tensor NAME(const Tensor& a, const Tensor& b) { return raw_binary(BinaryOp::OP, a.detach(), b.detach(), #NAME); } \
  Tensor NAME(const Tensor& a, double b) { return NAME(a, scalar_like(a, b)); }
MRC_COMPARISON(eq, Eq)
MRC_COMPARISON(ne, Ne)
MRC_COMPARISON(lt, Lt)
MRC_COMPARISON(le, Le)
MRC_COMPARISON(gt, Gt)
MRC_COMPARISON(ge, Ge)
#undef MRC_COMPARISON

static Tensor logical_binary(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  check_defined(name, a, "a");
  check_defined(name, b, "b");
  if (a.dtype() == b.dtype()) return raw_binary(op, a.detach(), b.detach(), name);
  return raw_binary(op, ne(a, 0.0), ne(b, 0.0), name);  // mixed dtypes: each tested in its own
}
Tensor logical_and(const Tensor& a, const Tensor& b) { return logical_binary(BinaryOp::LogicalAnd, a, b, "logical_and"); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return logical_binary(BinaryOp::LogicalOr, a, b, "logical_or"); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same_dtype("where", a, b);
  check_same_device("where", a, b);
  check_same_device("where", cond, a);
  if (cond.dtype() != DType::UInt8) throw_arg("where", std::string("cond must be uint8, got ") + dtype_name(cond.dtype()));
  const Shape s = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape()));
  Tensor out = Tensor::empty(s, a.dtype(), a.device());
  MRC_DISPATCH_DEVICE(a, ternary, TernaryOp::Where, cond.expand(s), a.detach().expand(s), b.detach().expand(s), out, 0.0, 0.0);
  if (!needs_grad({&a, &b})) return out;
  SavedTensor sc(cond);
  const Shape sha = a.shape(), shb = b.shape();
  return record(out, {a, b}, "where", [sc, sha, shb](const Tensor& g) -> std::vector<Tensor> {
    const Tensor c = sc.get();
    const Tensor z = Tensor::zeros({}, g.dtype(), g.device());
    return {sum_to(where(c, g, z), sha), sum_to(where(c, z, g), shb)};
  });
}
Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar_like(a, b)); }

Tensor relu_backward(const Tensor& g, const Tensor& out) { return raw_binary(BinaryOp::ReluBackward, g, out, "relu_backward"); }
Tensor sigmoid_backward(const Tensor& g, const Tensor& out) {
  return raw_binary(BinaryOp::SigmoidBackward, g, out, "sigmoid_backward");
}
Tensor tanh_backward(const Tensor& g, const Tensor& out) { return raw_binary(BinaryOp::TanhBackward, g, out, "tanh_backward"); }

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return mul(pow(b, -1.0), a); }

// ---------------------------------------------------------------- in place (Tensor members)

static void check_inplace(const Tensor& t, const char* op) {
  if (grad_enabled() && t.requires_grad())
    throw std::logic_error(std::string(op) + ": in-place change of a tensor that requires grad (" + t.str() +
                           "); do it inside a NoGradGuard scope");
}

static Tensor& inplace_binary(Tensor& self, BinaryOp op, const Tensor& other, double p0, const char* name) {
  check_inplace(self, name);
  check_same_device(name, self, other);
  check_same_dtype(name, self, other);
  broadcast_shapes(self.shape(), other.shape());
  MRC_DISPATCH_DEVICE(self, binary, op, self, other.detach().expand(self.shape()), self, p0);
  self.storage()->bump_version();
  return self;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return alpha == 1 ? inplace_binary(*this, BinaryOp::Add, other, 0, "add_")
                    : inplace_binary(*this, BinaryOp::AddScaled, other, alpha, "add_");
}
Tensor& Tensor::mul_(const Tensor& other) { return inplace_binary(*this, BinaryOp::Mul, other, 0, "mul_"); }
Tensor& Tensor::div_(const Tensor& other) { return inplace_binary(*this, BinaryOp::Div, other, 0, "div_"); }
Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  MRC_DISPATCH_DEVICE(*this, unary, UnaryOp::MulScalar, *this, *this, value, 0.0);
  storage()->bump_version();
  return *this;
}
Tensor& Tensor::clamp_(double lo, double hi) {
  check_inplace(*this, "clamp_");
  MRC_DISPATCH_DEVICE(*this, unary, UnaryOp::Clamp, *this, *this, lo, hi);
  storage()->bump_version();
  return *this;
}

static Tensor& inplace_ternary(Tensor& self, TernaryOp op, const Tensor& a, const Tensor& b, double value, const char* name) {
  check_inplace(self, name);
  check_same_dtype(name, self, a);
  check_same_dtype(name, self, b);
  MRC_DISPATCH_DEVICE(self, ternary, op, self, a.detach().expand(self.shape()), b.detach().expand(self.shape()), self, value, 0.0);
  self.storage()->bump_version();
  return self;
}
Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, double value) {
  return inplace_ternary(*this, TernaryOp::Addcmul, a, b, value, "addcmul_");
}
Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, double value) {
  return inplace_ternary(*this, TernaryOp::Addcdiv, a, b, value, "addcdiv_");
}

}  // namespace mrc
