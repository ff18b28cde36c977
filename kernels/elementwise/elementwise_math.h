// The scalar math of every elementwise op, one copy for both backends (host and device).
#pragma once
#include <cmath>

#include "kernels/elementwise/elementwise_kernels.h"

#if defined(__CUDACC__)
#define MRC_EW_HD __host__ __device__ __forceinline__
#else
#define MRC_EW_HD inline
#endif

namespace mrc::ew {

template <class T>
MRC_EW_HD T apply_unary(UnaryOp op, T x, double p0, double p1) {
  using std::abs;
  switch (op) {
    case UnaryOp::Neg: return T(-x);
    case UnaryOp::Abs: return x < T(0) ? T(-x) : x;
    case UnaryOp::Exp: return T(exp(double(x)));
    case UnaryOp::Log: return T(log(double(x)));
    case UnaryOp::Sqrt: return T(sqrt(double(x)));
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Sigmoid: return T(1.0 / (1.0 + exp(-double(x))));
    case UnaryOp::Tanh: return T(tanh(double(x)));
    case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
    case UnaryOp::Clamp: {
      double v = double(x);
      if (v < p0) v = p0;
      if (v > p1) v = p1;
      return v != v ? x : T(v);
    }
    case UnaryOp::Pow: return T(pow(double(x), p0));
    case UnaryOp::AddScalar: return T(double(x) + p0);
    case UnaryOp::MulScalar: return T(double(x) * p0);
    case UnaryOp::Rsqrt: return T(1.0 / sqrt(double(x)));
    case UnaryOp::Log1p: return T(log1p(double(x)));
    case UnaryOp::Floor: return T(floor(double(x)));
    case UnaryOp::Ceil: return T(ceil(double(x)));
    case UnaryOp::Round: return T(nearbyint(double(x)));
  }
  return x;
}

// float32 fast paths: keep float math in float (the double round trip above is exact but slower).
template <>
MRC_EW_HD float apply_unary<float>(UnaryOp op, float x, double p0, double p1) {
  switch (op) {
    case UnaryOp::Exp: return expf(x);
    case UnaryOp::Log: return logf(x);
    case UnaryOp::Sqrt: return sqrtf(x);
    case UnaryOp::Sigmoid: return 1.0f / (1.0f + expf(-x));
    case UnaryOp::Tanh: return tanhf(x);
    case UnaryOp::AddScalar: return x + float(p0);
    case UnaryOp::MulScalar: return x * float(p0);
    case UnaryOp::Rsqrt: return 1.0f / sqrtf(x);
    default: return apply_unary<double>(op, double(x), p0, p1);
  }
}

// Arithmetic result in T; comparisons return 0/1 (the caller stores them as uint8).
template <class T>
MRC_EW_HD T apply_binary(BinaryOp op, T a, T b, double p0) {
  switch (op) {
    case BinaryOp::Add: return T(a + b);
    case BinaryOp::Sub: return T(a - b);
    case BinaryOp::Mul: return T(a * b);
    case BinaryOp::Div: return T(a / b);
    case BinaryOp::Maximum: return (a != a || a > b) ? a : b;
    case BinaryOp::Minimum: return (a != a || a < b) ? a : b;
    case BinaryOp::Eq: return T(a == b);
    case BinaryOp::Ne: return T(a != b);
    case BinaryOp::Lt: return T(a < b);
    case BinaryOp::Le: return T(a <= b);
    case BinaryOp::Gt: return T(a > b);
    case BinaryOp::Ge: return T(a >= b);
    case BinaryOp::LogicalAnd: return T(a != T(0) && b != T(0));
    case BinaryOp::LogicalOr: return T(a != T(0) || b != T(0));
    case BinaryOp::AddScaled: return T(a + T(p0) * b);
    case BinaryOp::ReluBackward: return b > T(0) ? a : T(0);
    case BinaryOp::SigmoidBackward: return T(a * b * (T(1) - b));
    case BinaryOp::TanhBackward: return T(a * (T(1) - b * b));
  }
  return a;
}

template <class T>
MRC_EW_HD T apply_ternary(TernaryOp op, T x, T a, T b, double p0, double p1) {
  switch (op) {
    case TernaryOp::Where: return x != T(0) ? a : b;
    case TernaryOp::Addcmul: return T(x + T(p0) * a * b);
    case TernaryOp::Addcdiv: return T(x + T(p0) * a / b);
    case TernaryOp::ClampBackward: return (double(a) >= p0 && double(a) <= p1) ? x : T(0);
  }
  return x;
}

}  // namespace mrc::ew
