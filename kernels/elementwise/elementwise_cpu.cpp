// CPU elementwise kernels: the op is made a compile-time constant outside the loop, so each
// (op, dtype) pair gets its own vectorizable loop over the strided rows of for_each_strided.
#include <type_traits>

#include "kernels/elementwise/elementwise_math.h"
#include "tensor/strided_loop.h"

namespace mrc::cpu {

namespace {

template <auto V>
using constant = std::integral_constant<decltype(V), V>;

template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define MRC_CASE(X) case UnaryOp::X: return f(constant<UnaryOp::X>{});
    MRC_CASE(Neg) MRC_CASE(Abs) MRC_CASE(Exp) MRC_CASE(Log) MRC_CASE(Sqrt) MRC_CASE(Relu) MRC_CASE(Sigmoid)
    MRC_CASE(Tanh) MRC_CASE(Sign) MRC_CASE(Clamp) MRC_CASE(Pow) MRC_CASE(AddScalar) MRC_CASE(MulScalar)
    MRC_CASE(Rsqrt) MRC_CASE(Log1p) MRC_CASE(Floor) MRC_CASE(Ceil) MRC_CASE(Round)
#undef MRC_CASE
  }
}

template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
#define MRC_CASE(X) case BinaryOp::X: return f(constant<BinaryOp::X>{});
    MRC_CASE(Add) MRC_CASE(Sub) MRC_CASE(Mul) MRC_CASE(Div) MRC_CASE(Maximum) MRC_CASE(Minimum) MRC_CASE(Eq)
    MRC_CASE(Ne) MRC_CASE(Lt) MRC_CASE(Le) MRC_CASE(Gt) MRC_CASE(Ge) MRC_CASE(LogicalAnd) MRC_CASE(LogicalOr)
    MRC_CASE(AddScaled) MRC_CASE(ReluBackward) MRC_CASE(SigmoidBackward) MRC_CASE(TanhBackward)
#undef MRC_CASE
  }
}

template <class F>
void with_ternary_op(TernaryOp op, F&& f) {
  switch (op) {
#define MRC_CASE(X) case TernaryOp::X: return f(constant<TernaryOp::X>{});
    MRC_CASE(Where) MRC_CASE(Addcmul) MRC_CASE(Addcdiv) MRC_CASE(ClampBackward)
#undef MRC_CASE
  }
}

using Off2 = std::array<int64_t, 2>;
using Off3 = std::array<int64_t, 3>;
using Off4 = std::array<int64_t, 4>;

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  MRC_DISPATCH_ALL(x.dtype(), "unary op", [&] {
    using T = scalar_t;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* op_ = static_cast<T*>(out.raw_data());
    with_unary_op(op, [&](auto tag) {
      constexpr UnaryOp OP = decltype(tag)::value;
      for_each_strided<2>(out.shape(), {out.strides(), x.strides()}, [&](const Off2& o, int64_t n, const Off2& s) {
        T* d = op_ + o[0];
        const T* a = xp + o[1];
        if (s[0] == 1 && s[1] == 1) {
          for (int64_t k = 0; k < n; ++k) d[k] = ew::apply_unary<T>(OP, a[k], p0, p1);
        } else {
          for (int64_t k = 0; k < n; ++k) d[k * s[0]] = ew::apply_unary<T>(OP, a[k * s[1]], p0, p1);
        }
      });
    });
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double p0) {
  MRC_DISPATCH_ALL(a.dtype(), "binary op", [&] {
    using T = scalar_t;
    const T* ap = static_cast<const T*>(a.raw_data());
    const T* bp = static_cast<const T*>(b.raw_data());
    with_binary_op(op, [&](auto tag) {
      constexpr BinaryOp OP = decltype(tag)::value;
      using O = std::conditional_t<OP >= BinaryOp::Eq && OP <= BinaryOp::LogicalOr, uint8_t, T>;
      O* dp = static_cast<O*>(out.raw_data());
      for_each_strided<3>(out.shape(), {out.strides(), a.strides(), b.strides()},
                          [&](const Off3& o, int64_t n, const Off3& s) {
                            O* d = dp + o[0];
                            const T* x = ap + o[1];
                            const T* y = bp + o[2];
                            if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
                              for (int64_t k = 0; k < n; ++k) d[k] = O(ew::apply_binary<T>(OP, x[k], y[k], p0));
                            } else if (s[0] == 1 && s[1] == 1 && s[2] == 0) {
                              const T yv = *y;
                              for (int64_t k = 0; k < n; ++k) d[k] = O(ew::apply_binary<T>(OP, x[k], yv, p0));
                            } else {
                              for (int64_t k = 0; k < n; ++k)
                                d[k * s[0]] = O(ew::apply_binary<T>(OP, x[k * s[1]], y[k * s[2]], p0));
                            }
                          });
    });
  });
}

void ternary(TernaryOp op, const Tensor& x, const Tensor& a, const Tensor& b, const Tensor& out, double p0, double p1) {
  MRC_DISPATCH_ALL(a.dtype(), "ternary op", [&] {
    using T = scalar_t;
    const T* ap = static_cast<const T*>(a.raw_data());
    const T* bp = static_cast<const T*>(b.raw_data());
    T* dp = static_cast<T*>(out.raw_data());
    with_ternary_op(op, [&](auto tag) {
      constexpr TernaryOp OP = decltype(tag)::value;
      using X = std::conditional_t<OP == TernaryOp::Where, uint8_t, T>;
      const X* xp = static_cast<const X*>(x.raw_data());
      for_each_strided<4>(out.shape(), {out.strides(), x.strides(), a.strides(), b.strides()},
                          [&](const Off4& o, int64_t n, const Off4& s) {
                            for (int64_t k = 0; k < n; ++k) {
                              const X xv = xp[o[1] + k * s[1]];
                              const T av = ap[o[2] + k * s[2]], bv = bp[o[3] + k * s[3]];
                              T r;
                              if constexpr (OP == TernaryOp::Where)
                                r = xv ? av : bv;
                              else
                                r = ew::apply_ternary<T>(OP, xv, av, bv, p0, p1);
                              dp[o[0] + k * s[0]] = r;
                            }
                          });
    });
  });
}

}  // namespace mrc::cpu
