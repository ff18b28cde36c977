// CUDA elementwise kernels: the scalar math of elementwise_math.h (shared with the CPU) applied through
// the strided engine of tensor/cuda/loops.cuh. The op stays a run-time value: it is uniform across the
// grid, so the switch costs a few instructions per element of a memory-bound loop, and one kernel per
// dtype keeps the build small.
// apply_unary compares with zero generically; for uint8 that comparison is always false, which is fine.
#pragma nv_diag_suppress 186
#include "kernels/elementwise/elementwise_math.h"
#include "tensor/cuda/loops.cuh"

namespace mrc::cuda {

namespace {

template <class T>
struct UnaryFn {
  UnaryOp op;
  double p0, p1;
  __device__ T operator()(T x) const { return ew::apply_unary<T>(op, x, p0, p1); }
};

template <class T, class O>
struct BinaryFn {
  BinaryOp op;
  double p0;
  __device__ O operator()(T a, T b) const { return O(ew::apply_binary<T>(op, a, b, p0)); }
};

template <class T>
struct WhereFn {
  __device__ T operator()(uint8_t c, T a, T b) const { return c ? a : b; }
};

template <class T>
struct TernaryFn {
  TernaryOp op;
  double p0, p1;
  __device__ T operator()(T x, T a, T b) const { return ew::apply_ternary<T>(op, x, a, b, p0, p1); }
};

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, double p0, double p1) {
  MRC_DISPATCH_ALL(x.dtype(), "unary op", [&] {
    launch_elementwise<scalar_t, scalar_t>(out, {x}, UnaryFn<scalar_t>{op, p0, p1});
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, double p0) {
  MRC_DISPATCH_ALL(a.dtype(), "binary op", [&] {
    using T = scalar_t;
    if (is_comparison(op))
      launch_elementwise<uint8_t, T, T>(out, {a, b}, BinaryFn<T, uint8_t>{op, p0});
    else
      launch_elementwise<T, T, T>(out, {a, b}, BinaryFn<T, T>{op, p0});
  });
}

void ternary(TernaryOp op, const Tensor& x, const Tensor& a, const Tensor& b, const Tensor& out, double p0, double p1) {
  MRC_DISPATCH_ALL(a.dtype(), "ternary op", [&] {
    using T = scalar_t;
    if (op == TernaryOp::Where)
      launch_elementwise<T, uint8_t, T, T>(out, {x, a, b}, WhereFn<T>{});
    else
      launch_elementwise<T, T, T, T>(out, {x, a, b}, TernaryFn<T>{op, p0, p1});
  });
}

}  // namespace mrc::cuda
