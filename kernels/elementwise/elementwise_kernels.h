// Backend entry points of the elementwise family. Operands arrive broadcast (expanded) to the output's
// shape; the output may alias an input exactly (in-place ops). Each backend implements all of them.
#pragma once
#include "tensor/tensor.h"

namespace mrc {

enum class UnaryOp : uint8_t {
  Neg, Abs, Exp, Log, Sqrt, Relu, Sigmoid, Tanh, Sign, Clamp /*p0, p1*/, Pow /*p0*/,
  AddScalar /*x + p0*/, MulScalar /*x * p0*/, Rsqrt, Log1p, Floor, Ceil, Round
};
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
  AddScaled /*a + p0 * b*/,
  ReluBackward /*a * (b > 0)*/, SigmoidBackward /*a * b * (1 - b)*/, TanhBackward /*a * (1 - b * b)*/
};
enum class TernaryOp : uint8_t {
  Where /*x ? a : b*/, Addcmul /*x + p0 * a * b*/, Addcdiv /*x + p0 * a / b*/,
  ClampBackward /*x * (p0 <= a <= p1), b unused*/
};

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::LogicalOr; }

namespace cpu {
void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double p0);
void ternary(TernaryOp op, const Tensor& x, const Tensor& a, const Tensor& b, const Tensor& out, double p0, double p1);
}  // namespace cpu

#ifdef MRC_WITH_CUDA
namespace cuda {
void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double p0);
void ternary(TernaryOp op, const Tensor& x, const Tensor& a, const Tensor& b, const Tensor& out, double p0, double p1);
}  // namespace cuda
#endif

}  // namespace mrc
